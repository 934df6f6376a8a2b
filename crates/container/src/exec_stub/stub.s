# The exec stub of exec_stub.rs, for x86-64 Linux.
#   argv[0]  "berth-exec", or "W<fd>": first wait for `start` on the
#            listening socket <fd> (accept4, read the state to EOF)
#   argv[1]  the program's path
#   argv[2.] the program's arguments
# Then execve(argv[1], &argv[2], envp). On failure: in "W" mode a message
# on the start connection; exit 127. Fewer than 3 arguments: exit 127.
    .intel_syntax noprefix
    .globl _start
_start:
    mov rax, [rsp]              # argc
    cmp rax, 3
    jb fail_noconn
    mov rbx, [rsp+16]           # path = argv[1]
    lea rbp, [rsp+24]           # &argv[2]
    lea r14, [rsp+rax*8+16]     # envp
    mov r13, -1                 # no connection
    mov rsi, [rsp+8]            # argv[0]
    cmp byte ptr [rsi], 'W'
    jne run
    xor r12d, r12d              # listener fd, decimal after the W
    inc rsi
parse:
    movzx ecx, byte ptr [rsi]
    test ecx, ecx
    jz accept
    imul r12, r12, 10
    sub ecx, '0'
    add r12, rcx
    inc rsi
    jmp parse
accept:
    mov edi, r12d
    xor esi, esi
    xor edx, edx
    mov r10d, 0x80000           # SOCK_CLOEXEC
    mov eax, 288                # accept4
    syscall
    cmp rax, -4                 # EINTR
    je accept
    test rax, rax
    js fail_noconn
    mov r13, rax
    mov edi, r12d
    mov eax, 3                  # close(listener)
    syscall
    sub rsp, 4096
drain:
    mov edi, r13d
    mov rsi, rsp
    mov edx, 4096
    xor eax, eax                # read
    syscall
    cmp rax, -4
    je drain
    test rax, rax
    js fail
    jnz drain
run:
    mov rdi, rbx
    mov rsi, rbp
    mov rdx, r14
    mov eax, 59                 # execve
    syscall
fail:
    test r13, r13
    js fail_noconn
    mov edi, r13d
    lea rsi, [rip+msg]
    mov edx, msg_end - msg
    mov eax, 1                  # write
    syscall
fail_noconn:
    mov edi, 127
    mov eax, 60                 # exit
    syscall
msg:
    .ascii "the container's program could not be executed"
msg_end:
