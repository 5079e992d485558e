# natrium, built without pulling a base image: chaos/docker-build.sh stages the release
# binary, the shared libraries it links (glibc, libgcc_s, libm, the loader) and the
# cluster configs in target/docker-context/rootfs, then runs
#   docker build -t natrium:cluster -f Dockerfile .
# With registry access you can instead build in the ordinary multi-stage way; see
# README.cluster.md ("Building the image with registry access").
FROM scratch
COPY target/docker-context/rootfs/ /
EXPOSE 4222 6222 8222
VOLUME ["/data"]
ENTRYPOINT ["/natrium"]
CMD ["-c", "/etc/natrium/node1.conf"]
