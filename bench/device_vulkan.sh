# Sourced by the device-machine scripts (bench/device.sh, sfm.sh, train.sh): unpacks the carried
# Vulkan loader packages (.gl, see the device tool's README) where the machine has no loader, and
# points the loader at NVIDIA's driver.
if ls .gl/*.deb >/dev/null 2>&1 && [ ! -e /usr/lib/x86_64-linux-gnu/libvulkan.so.1 ]; then
    for f in .gl/*.deb; do dpkg -x "$f" /; done
    ldconfig
fi
if [ -z "${VK_DRIVER_FILES:-}" ] && [ -f /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json ]; then
    export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
fi
