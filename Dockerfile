# Splatpod on a Vulkan-capable NVIDIA image: Debian 12 with the Vulkan loader. The NVIDIA
# driver's Vulkan ICD comes from the host (NVIDIA Container Toolkit, `docker run --gpus all`);
# without a GPU, Mesa lavapipe (software Vulkan) runs the same kernels, slowly.
#
#   docker build -t splatpod .
#   docker run --gpus all -p 8080:8080 -v splatpod-data:/data splatpod          # all in one
#   docker run --gpus all -e SPLATPOD_DATABASE_URL=postgres://... \
#       -e SPLATPOD_BLOB_URL=s3://bucket/prefix -e AWS_... splatpod worker       # a fleet worker

# Build with the same setup script as CI (.ci/setup.sh: lavapipe, trunk, wasm-bindgen, binaryen,
# the wasm32 target), then the PWA and the server in release mode.
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN bash -c 'source .ci/setup.sh' \
    && PATH="$PWD/.ci/binaryen/node_modules/.bin:$PATH" trunk build --release \
    && cargo build --release -p splatpod-server

FROM debian:bookworm-slim
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
       libvulkan1 mesa-vulkan-drivers ffmpeg ca-certificates \
    && rm -rf /var/lib/apt/lists/*
# The toolkit mounts the driver's libraries (graphics capability); older toolkits do not mount
# its ICD manifest, so name the library here (the loader skips it where it is absent).
RUN mkdir -p /usr/share/vulkan/icd.d \
    && printf '%s\n' '{"file_format_version": "1.0.0",' \
       '"ICD": {"library_path": "libGLX_nvidia.so.0", "api_version": "1.3"}}' \
       > /usr/share/vulkan/icd.d/nvidia_icd.json
COPY --from=build /src/target/release/splatpod-server /usr/local/bin/splatpod-server
COPY --from=build /src/dist /opt/splatpod/dist
ENV NVIDIA_VISIBLE_DEVICES=all \
    NVIDIA_DRIVER_CAPABILITIES=graphics,compute,utility \
    SPLATPOD_DATA_DIR=/data \
    SPLATPOD_DIST_DIR=/opt/splatpod/dist \
    SPLATPOD_HOST=0.0.0.0 \
    XDG_RUNTIME_DIR=/tmp
VOLUME /data
EXPOSE 8080
ENTRYPOINT ["splatpod-server"]
CMD ["serve"]
