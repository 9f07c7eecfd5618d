# --- devices as capabilities (issue 4 items 1-2): PCI enumeration, PCI-device
# capabilities, HC_PCI_OP and MMIO mapping. test_devices runs as the root on
# QEMU's q35 (host bridge, standard VGA, e1000e, ISA bridge, AHCI, SMBus).
set(DEVICES_GUEST $<TARGET_FILE:test_devices>)
add_hv_test(core_devices LABELS core TIMEOUT 30
    MODULES "${DEVICES_GUEST}::devices"
    EXPECT "I: pci: 00:01.0 1234:1111 class 030000"
           "device capabilities from slot 128"
           "[d0] devices: the display ID reads 0xb0cX -> "
           "[d0] devices: ok"
    FORBID "FAILED" "hypervisor fault" "killed")
