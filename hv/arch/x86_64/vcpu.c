/*
 * The guest side of the register frame: each VCPU's saved registers and
 * x87/SSE state and the context switch through the frame; hypercalls
 * decoded from the frame (the one place that knows which register carries
 * which argument) and restarted through it; trap reflection on bounce
 * frames and HC_IRET.
 */
#include <string.h>

#include "arch.h"
#include "arch_hooks.h"
#include "log.h"
#include "percpu.h"
#include "regs.h"
#include "x86.h"

#define SYSCALL_INSN_BYTES 2
/* rflags bits a guest may set through HC_IRET: CF PF AF ZF SF DF OF. */
#define IRET_RFLAGS_MASK 0xcd5ull
#define RFLAGS_BASE 0x202ull /* IF and the always-one bit */

struct arch_vcpu {
    struct cpu_regs regs; /* the ring-3 context while off the CPU */
    struct cpu_fpu fpu;   /* the x87/SSE state while off the CPU */
};

static struct arch_vcpu vcpus[ARCH_VCPUS_MAX];
static struct cpu_regs first_frames[ARCH_MAX_CPUS];

struct arch_vcpu *arch_vcpu(unsigned i)
{
    if (i >= ARCH_VCPUS_MAX)
        panic("arch: VCPU slot %u beyond %u", i, ARCH_VCPUS_MAX);
    return &vcpus[i];
}

void arch_vcpu_init(struct arch_vcpu *v, uint64_t entry, uint64_t stack, uint64_t arg)
{
    memset(&v->regs, 0, sizeof(v->regs));
    cpu_fpu_reset(&v->fpu);
    v->regs.rip = entry;
    v->regs.cs = SEL_USER_CS;
    v->regs.rflags = RFLAGS_BASE;
    v->regs.rsp = stack;
    v->regs.ss = SEL_USER_DS;
    v->regs.rdi = arg;
}

void arch_vcpu_save(struct arch_vcpu *v, const struct cpu_regs *frame)
{
    v->regs = *frame;
    cpu_fpu_save(&v->fpu);
}

void arch_vcpu_load(const struct arch_vcpu *v, struct cpu_regs *frame)
{
    *frame = v->regs;
    cpu_fpu_restore(&v->fpu);
}

/* The first frame lives here, not at the top of the stack: an AP comes to
 * schedule_start from just below the top, which the frame would overwrite.
 * Later entries from ring 3 put their frames at the top as usual. */
struct cpu_regs *arch_first_frame(void)
{
    return &first_frames[arch_cpu_id()];
}

bool arch_vector_reflectable(uint64_t v)
{
    return v < HV_TRAP_VECTORS && v != 2 && v != 8 && v != 18; /* not NMI, #DF, #MC */
}

bool arch_frame_bounce(struct cpu_regs *regs, uint64_t vector, uint64_t error_code,
                       uint64_t handler)
{
    struct hv_bounce_frame f = {
        .vector = vector,
        .error_code = error_code,
        .rip = regs->rip,
        .rflags = regs->rflags,
        .rsp = regs->rsp,
        .rax = regs->rax,
        .rcx = regs->rcx,
        .r11 = regs->r11,
        .rdi = regs->rdi,
    };
    uint64_t frame_va = 0;
    if (regs->rsp >= HV_BOUNCE_GAP + sizeof(f) && regs->rsp < HV_GUEST_VA_LIMIT)
        frame_va = ALIGN_DOWN(regs->rsp - HV_BOUNCE_GAP - sizeof(f), 16);
    if (!frame_va || arch_copy_to_guest(gva(frame_va), &f, sizeof(f)) != HV_OK)
        return false;
    regs->rip = handler;
    regs->rsp = frame_va;
    regs->rflags = RFLAGS_BASE;
    return true;
}

uint64_t arch_frame_stack(const struct cpu_regs *frame)
{
    return frame->rsp;
}

int64_t arch_frame_iret(struct cpu_regs *regs, gva_t bounce_va)
{
    struct hv_bounce_frame f;
    if (arch_copy_from_guest(&f, bounce_va, sizeof(f)) != HV_OK)
        return HV_EFAULT;
    if (f.rip >= HV_GUEST_VA_LIMIT || f.rsp >= HV_GUEST_VA_LIMIT)
        return HV_EINVAL;
    regs->rip = f.rip;
    regs->rsp = f.rsp;
    regs->rflags = (f.rflags & IRET_RFLAGS_MASK) | RFLAGS_BASE;
    regs->rcx = f.rcx;
    regs->r11 = f.r11;
    regs->rdi = f.rdi;
    return (int64_t)f.rax; /* the dispatcher puts it in rax */
}

void arch_syscall_entry(struct cpu_regs *regs);

/* Called by entry.S for every syscall from ring 3 (the ABI of
 * proto/include/hv/abi.h: rax = number, arguments rdi rsi rdx r10 r8 r9). */
void arch_syscall_entry(struct cpu_regs *regs)
{
    struct hypercall c = {
        .nr = regs->rax,
        .arg = {regs->rdi, regs->rsi, regs->rdx, regs->r10, regs->r8, regs->r9},
        .frame = regs,
    };
    hypercall_entry(&c);
}

int64_t arch_hypercall_restart(struct hypercall *c)
{
    struct cpu_regs *r = c->frame;
    r->rdi = c->arg[0];
    r->rsi = c->arg[1];
    r->rdx = c->arg[2];
    r->r10 = c->arg[3];
    r->r8 = c->arg[4];
    r->r9 = c->arg[5];
    r->rip -= SYSCALL_INSN_BYTES;
    return (int64_t)c->nr;
}

const char *arch_hypercall_return(struct hypercall *c, int64_t result)
{
    c->frame->rax = (uint64_t)result;
    /* syscall at the very top of the lower half returns to a non-canonical
     * address, which iretq would fault on in ring 0: the guest's fault. */
    if (c->frame->rip >= HV_GUEST_VA_LIMIT)
        return "#GP: syscall would return to a non-canonical address";
    return NULL;
}
