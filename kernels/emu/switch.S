# Fiber context switch for the emulated CUDA device (x86-64 System V).
# void viper_emu_switch(void** save_sp, void* load_sp)
# Saves the callee-saved registers on the current stack, stores the stack pointer in *save_sp,
# loads load_sp and restores the registers saved there. No system call, unlike swapcontext.
    .text
    .globl viper_emu_switch
    .type viper_emu_switch, @function
viper_emu_switch:
    pushq %rbp
    pushq %rbx
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    subq $8, %rsp
    stmxcsr (%rsp)
    fnstcw 4(%rsp)
    movq %rsp, (%rdi)
    movq %rsi, %rsp
    ldmxcsr (%rsp)
    fldcw 4(%rsp)
    addq $8, %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    ret
    .size viper_emu_switch, .-viper_emu_switch

# First code a new fiber runs: the switch "returns" here with r12 = argument, r13 = entry function.
    .globl viper_emu_fiber_start
    .type viper_emu_fiber_start, @function
viper_emu_fiber_start:
    movq %r12, %rdi
    callq *%r13
    ud2
    .size viper_emu_fiber_start, .-viper_emu_fiber_start

    .section .note.GNU-stack,"",@progbits
