# The devices of the test-only QEMU build (build/qemu-fuzz, for the
# sanitized qtests and generic-fuzz): the q35 machine and what the
# qtests and fuzz targets create, nothing else.  Configured with
# --without-default-devices --with-devices-x86_64=virt-iommu-tests, so
# that a fresh machine runs about 260 fewer build steps;
# build/qemu, the one users boot, keeps QEMU's default devices.  A device
# missing here fails its test with "'NAME' is not a valid device model
# name" (docs/devel/build.rst).
CONFIG_Q35=y
CONFIG_VIRT_IOMMU=y
CONFIG_DMA_TESTDEV=y
CONFIG_VIRTIO_PCI=y
CONFIG_VIRTIO_BLK=y
CONFIG_EDU=y
CONFIG_PCIE_PORT=y
CONFIG_PCI_BRIDGE=y
