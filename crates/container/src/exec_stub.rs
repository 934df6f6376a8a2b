//! The runtime binary stays out of reach of the container (CVE-2019-5736
//! class).
//!
//! Init and exec'd processes are forks of berth, so until their last
//! execve their `/proc/self/exe` is the host's berth binary. A container
//! whose program is a script starting `#!/proc/self/exe` would make the
//! kernel run that binary inside the container, where a second process
//! could open it through `/proc/<pid>/exe` and, once no berth runs,
//! overwrite it: the next `berth` anyone runs on the host is then the
//! attacker's. runc answers with a sealed copy of itself in a memfd and a
//! re-exec; berth does not re-exec, so instead every container process
//! reaches its program through this stub: a 168-byte static program in a
//! sealed memfd that only calls `execve(argv[1], &argv[2], envp)`. During
//! the program's execve `/proc/self/exe` is then the memfd (anonymous,
//! sealed against writes), never a host file. The stub exits 127 when
//! that execve fails or it was started with fewer than three arguments
//! (as it is when a script names `/proc/self/exe` itself, which would
//! otherwise loop).
//!
//! Hand-written machine code because no crate provides such a program and
//! a second Rust binary would be 100 times larger.

use std::io;
use std::os::fd::OwnedFd;

use crate::sys;

const BASE: u64 = 0x40_0000;
const EHDR: usize = 64;
const PHDR: usize = 56;

/// x86-64 code at the entry point; the stack holds argc, argv..., NULL,
/// envp..., NULL.
const CODE: [u8; 48] = [
    0x48, 0x8b, 0x04, 0x24, // mov rax, [rsp]            ; argc
    0x48, 0x83, 0xf8, 0x03, // cmp rax, 3
    0x72, 0x16, //             jb  fail                  ; +22
    0x48, 0x8b, 0x7c, 0x24, 0x10, // mov rdi, [rsp+16]   ; argv[1]
    0x48, 0x8d, 0x74, 0x24, 0x18, // lea rsi, [rsp+24]   ; &argv[2]
    0x48, 0x8d, 0x54, 0xc4, 0x10, // lea rdx, [rsp+rax*8+16] ; envp
    0xb8, 0x3b, 0x00, 0x00, 0x00, // mov eax, 59         ; execve
    0x0f, 0x05, //             syscall
    // fail:
    0xbf, 0x7f, 0x00, 0x00, 0x00, // mov edi, 127
    0xb8, 0x3c, 0x00, 0x00, 0x00, // mov eax, 60         ; exit
    0x0f, 0x05, //             syscall
    0x90, 0x90, 0x90, 0x90, // padding
];

const LEN: usize = EHDR + PHDR + CODE.len();

/// The ELF file: header, one PT_LOAD program header mapping the whole
/// file read+execute at BASE, the code.
const fn image() -> [u8; LEN] {
    let mut f = [0u8; LEN];
    let ident = [0x7f, b'E', b'L', b'F', 2, 1, 1, 0];
    let mut i = 0;
    while i < ident.len() {
        f[i] = ident[i];
        i += 1;
    }
    put(&mut f, 16, 2, 2); // e_type: ET_EXEC
    put(&mut f, 18, 0x3e, 2); // e_machine: x86-64
    put(&mut f, 20, 1, 4); // e_version
    put(&mut f, 24, BASE + (EHDR + PHDR) as u64, 8); // e_entry
    put(&mut f, 32, EHDR as u64, 8); // e_phoff
    put(&mut f, 52, EHDR as u64, 2); // e_ehsize
    put(&mut f, 54, PHDR as u64, 2); // e_phentsize
    put(&mut f, 56, 1, 2); // e_phnum
    put(&mut f, EHDR, 1, 4); // p_type: PT_LOAD
    put(&mut f, EHDR + 4, 5, 4); // p_flags: R+X
    put(&mut f, EHDR + 16, BASE, 8); // p_vaddr
    put(&mut f, EHDR + 24, BASE, 8); // p_paddr
    put(&mut f, EHDR + 32, LEN as u64, 8); // p_filesz
    put(&mut f, EHDR + 40, LEN as u64, 8); // p_memsz
    put(&mut f, EHDR + 48, 0x1000, 8); // p_align
    let mut j = 0;
    while j < CODE.len() {
        f[EHDR + PHDR + j] = CODE[j];
        j += 1;
    }
    f
}

/// Little-endian `value` in `width` bytes at `at`.
const fn put(f: &mut [u8; LEN], at: usize, value: u64, width: usize) {
    let mut k = 0;
    while k < width {
        f[at + k] = (value >> (8 * k)) as u8;
        k += 1;
    }
}

const IMAGE: [u8; LEN] = image();

/// A close-on-exec memfd holding the stub, sealed so that nobody can
/// change it.
pub fn sealed() -> io::Result<OwnedFd> {
    let fd = sys::memfd_create(c"berth-exec")?;
    sys::write_all(std::os::fd::AsFd::as_fd(&fd), &IMAGE)?;
    sys::seal_all(&fd)?;
    Ok(fd)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stub_is_an_elf_whose_entry_is_its_code() {
        assert_eq!(&IMAGE[..4], b"\x7fELF");
        assert_eq!(IMAGE.len(), 168);
        let entry = u64::from_le_bytes(IMAGE[24..32].try_into().unwrap());
        assert_eq!(entry - BASE, (EHDR + PHDR) as u64);
        assert_eq!(&IMAGE[EHDR + PHDR..EHDR + PHDR + 4], &CODE[..4]);
    }
}
