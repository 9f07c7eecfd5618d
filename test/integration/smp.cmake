# SMP bring-up (label smp): ACPI MADT, AP start-up, topology from CPUID,
# IPIs and the remote TLB flush. Included from CMakeLists.txt.
set(SMP_TOPO_4
    "smp: cpu 0: apic id 0, package 0, core 0, thread 0"
    "smp: cpu 1: apic id 1, package 0, core 0, thread 1"
    "smp: cpu 2: apic id 2, package 0, core 1, thread 0"
    "smp: cpu 3: apic id 3, package 0, core 1, thread 1")
set(SMP_TOPO_8 ${SMP_TOPO_4}
    "smp: cpu 4: apic id 4, package 1, core 0, thread 0"
    "smp: cpu 5: apic id 5, package 1, core 0, thread 1"
    "smp: cpu 6: apic id 6, package 1, core 1, thread 0"
    "smp: cpu 7: apic id 7, package 1, core 1, thread 1")
set(SMP_FORBID "did not come up" "left out" "tables ignored" "FAILED" "did not answer"
    "not acknowledged")

add_hv_test(smp_boot_1 LABELS smp SMP 1 MODULES ${HELLO}
    EXPECT "acpi: RSDP from Multiboot2, MADT via RSDT: 1 CPUs enabled"
           "smp: cpu 0: apic id 0, package 0, core 0, thread 0"
           "smp: 1 CPU online (1 package, 1 core, 1 thread per core)" "[d0] hello: done"
    FORBID ${SMP_FORBID})
add_hv_test(smp_boot_4 LABELS smp SMP "4,sockets=1,cores=2,threads=2" MODULES ${HELLO}
    EXPECT ${SMP_TOPO_4} "smp: 4 CPUs online (1 package, 2 cores, 2 threads per core)"
           "acpi: I/O APIC id 0 at 0xfec00000, GSI base 0" "[d0] hello: done"
    FORBID ${SMP_FORBID})
add_hv_test(smp_boot_8 LABELS smp SMP "8,sockets=2,cores=2,threads=2" MODULES ${HELLO}
    EXPECT ${SMP_TOPO_8} "smp: 8 CPUs online (2 packages, 4 cores, 2 threads per core)"
           "[d0] hello: done"
    FORBID ${SMP_FORBID})
add_hv_test(smp_nosmp LABELS smp SMP "4,sockets=1,cores=2,threads=2" CMDLINE "nosmp"
    MODULES ${HELLO}
    EXPECT "smp: nosmp: the 3 other CPUs stay stopped" "smp: 1 CPU online" "[d0] hello: done"
    FORBID ${SMP_FORBID})
add_hv_test(smp_maxcpus LABELS smp SMP "4,sockets=1,cores=2,threads=2" CMDLINE "maxcpus=2"
    MODULES ${HELLO}
    EXPECT "smp: maxcpus=2: 2 of the 4 CPUs stay stopped"
           "smp: 2 CPUs online (1 package, 1 core, 2 threads per core)" "[d0] hello: done"
    FORBID ${SMP_FORBID} "smp: cpu 2:")

# test=ipi: a directed IPI, a broadcast IPI and a TLB flush answered by every AP;
# then a page remapped behind the APs' backs: QEMU's TLBs keep the old frame
# until arch_tlb_flush_cpus (the test fails if the flush handler does not flush).
set(SMP_TLB "still read it after the remap")
add_hv_test(smp_ipi_1 LABELS smp SMP 1 TEST_IMAGE CMDLINE "test=ipi" MODULES ${HELLO}
    EXPECT "smp: ipi self-test: 0 CPUs answered" "[d0] hello: done"
           "smp: tlb self-test: 0 of 0 CPUs read the first frame" FORBID ${SMP_FORBID})
add_hv_test(smp_ipi_4 LABELS smp SMP "4,sockets=1,cores=2,threads=2" TEST_IMAGE CMDLINE "test=ipi"
    MODULES ${HELLO}
    EXPECT "smp: ipi self-test: 3 CPUs answered" "[d0] hello: done"
           "smp: tlb self-test: 3 of 3 CPUs read the first frame, 3 ${SMP_TLB}, 3 read the new frame after the flush"
    FORBID ${SMP_FORBID})
add_hv_test(smp_ipi_8 LABELS smp SMP "8,sockets=2,cores=2,threads=2" TEST_IMAGE CMDLINE "test=ipi"
    MODULES ${HELLO}
    EXPECT ${SMP_TOPO_8} "smp: ipi self-test: 7 CPUs answered" "[d0] hello: done"
           "smp: tlb self-test: 7 of 7 CPUs read the first frame, 7 ${SMP_TLB}, 7 read the new frame after the flush"
    FORBID ${SMP_FORBID})
# One thread for all CPUs: a wait loop without `pause` would livelock here.
add_hv_test(smp_ipi_4_icount LABELS smp SMP "4,sockets=1,cores=2,threads=2" TEST_IMAGE CMDLINE "test=ipi"
    QEMU_ARGS "-icount" "shift=0,sleep=off" TIMEOUT 100
    MODULES ${HELLO}
    EXPECT ${SMP_TOPO_4} "smp: 4 CPUs online" "smp: ipi self-test: 3 CPUs answered"
           "smp: tlb self-test: 3 of 3 CPUs read the first frame, 3 ${SMP_TLB}, 3 read the new frame after the flush"
           "[d0] hello: done"
    EXPECT_RE "smp: tlb flush cost \\(mean of 100, ns of system time\\): to 1 other CPU [1-9][0-9]*, to 3 other CPUs [1-9][0-9]*"
    FORBID ${SMP_FORBID})
