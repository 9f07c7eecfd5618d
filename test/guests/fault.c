/*
 * A root domain that commits the fault named by `fault=KIND` on its command
 * line. Each must kill the domain (no trap handlers exist yet) and leave the
 * hypervisor healthy enough to report it and stop the machine.
 */
#include <string.h>

#include "gk/gk.h"

static volatile uint64_t data_word = 0xc3; /* `ret`, to try executing data */

/* Loads and stores through inline assembly, so the compiler neither folds
 * nor warns about the deliberately bad addresses. */
static void load_at(uintptr_t addr)
{
    uint64_t v;
    __asm__ volatile("movq (%1), %0" : "=r"(v) : "r"(addr) : "memory");
    (void)v;
}

static void store_at(uintptr_t addr, uint64_t v)
{
    __asm__ volatile("movq %1, (%0)" ::"r"(addr), "r"(v) : "memory");
}

int main(const struct hv_start_info *si)
{
    char kind[32];
    if (!gk_cmdline_get("fault", kind, sizeof(kind)))
        gk_panic("no fault= on the command line");
    gk_printf("fault: about to commit %s\n", kind);
    gk_console_flush();

    if (!strcmp(kind, "pf")) {
        load_at(0x10); /* unmapped */
    } else if (!strcmp(kind, "hvmem")) {
        load_at(0xffff800000000000ull); /* the direct map */
    } else if (!strcmp(kind, "hvimage")) {
        store_at(0xffffffff80200000ull, 0); /* the hypervisor image */
    } else if (!strcmp(kind, "wtext")) {
        store_at((uintptr_t)&main, 0x90); /* text is read-only */
    } else if (!strcmp(kind, "wpt")) {
        store_at(si->pt_base_va, 0); /* page tables are read-only */
    } else if (!strcmp(kind, "nx")) {
        ((void (*)(void))(uintptr_t)&data_word)(); /* data is not executable */
    } else if (!strcmp(kind, "ud")) {
        __asm__ volatile("ud2");
    } else if (!strcmp(kind, "gp")) {
        __asm__ volatile("cli"); /* privileged in ring 3 */
    } else if (!strcmp(kind, "hlt")) {
        __asm__ volatile("hlt");
    } else if (!strcmp(kind, "io")) {
        __asm__ volatile("outb %%al, $0x80" ::"a"(0)); /* no I/O capability */
    } else if (!strcmp(kind, "de")) {
        /* In assembly: a C division by 1/x would be folded into a compare. */
        __asm__ volatile("xorl %%ecx, %%ecx\n\tdivl %%ecx" ::"a"(7), "d"(0) : "rcx");
    } else if (!strcmp(kind, "noncanon")) {
        load_at(0x8000000000000000ull);
    } else if (!strcmp(kind, "stack")) {
        /* Run the stack down into the read-only page tables below it. */
        __asm__ volatile("1: pushq $0\n\tjmp 1b");
    } else {
        gk_panic("unknown fault kind %s", kind);
    }
    gk_printf("fault: %s did not fault\n", kind);
    return 1;
}
