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
//! reaches its program through this stub: a small static program in a
//! sealed memfd that calls `execve(argv[1], &argv[2], envp)`. During the
//! program's execve `/proc/self/exe` is then the memfd (anonymous, sealed
//! against writes), never a host file. With `argv[0]` = `W<fd>` the stub
//! first waits for `start` on the listening socket `fd` (accept, read the
//! state to its end), so a created container's init does not run the
//! runtime's image while it waits either; a failed execve is then
//! reported on that connection. The stub exits 127 when the execve fails
//! or it was started with fewer than three arguments (as it is when a
//! script names `/proc/self/exe` itself, which would otherwise loop).
//!
//! Hand-written machine code because no crate provides such a program and
//! a second Rust binary would be 100 times larger.

use std::io;
use std::os::fd::OwnedFd;

use crate::sys;

const BASE: u64 = 0x40_0000;
const EHDR: usize = 64;
const PHDR: usize = 56;

/// The stub's code, assembled from `exec_stub/stub.s` (GNU as, Intel
/// syntax; `as --64 stub.s && objcopy -O binary -j .text`), whose
/// comments explain it. It is position-independent and starts at the
/// entry point.
const CODE: [u8; 253] = [
    0x48, 0x8b, 0x04, 0x24, 0x48, 0x83, 0xf8, 0x03, 0x0f, 0x82, 0xb6, 0x00, 0x00, 0x00, 0x48, 0x8b,
    0x5c, 0x24, 0x10, 0x48, 0x8d, 0x6c, 0x24, 0x18, 0x4c, 0x8d, 0x74, 0xc4, 0x10, 0x49, 0xc7, 0xc5,
    0xff, 0xff, 0xff, 0xff, 0x48, 0x8b, 0x74, 0x24, 0x08, 0x80, 0x3e, 0x57, 0x75, 0x6b, 0x45, 0x31,
    0xe4, 0x48, 0xff, 0xc6, 0x0f, 0xb6, 0x0e, 0x85, 0xc9, 0x74, 0x0f, 0x4d, 0x6b, 0xe4, 0x0a, 0x83,
    0xe9, 0x30, 0x49, 0x01, 0xcc, 0x48, 0xff, 0xc6, 0xeb, 0xea, 0x44, 0x89, 0xe7, 0x31, 0xf6, 0x31,
    0xd2, 0x41, 0xba, 0x00, 0x00, 0x08, 0x00, 0xb8, 0x20, 0x01, 0x00, 0x00, 0x0f, 0x05, 0x48, 0x83,
    0xf8, 0xfc, 0x74, 0xe6, 0x48, 0x85, 0xc0, 0x78, 0x5b, 0x49, 0x89, 0xc5, 0x44, 0x89, 0xe7, 0xb8,
    0x03, 0x00, 0x00, 0x00, 0x0f, 0x05, 0x48, 0x81, 0xec, 0x00, 0x10, 0x00, 0x00, 0x44, 0x89, 0xef,
    0x48, 0x89, 0xe6, 0xba, 0x00, 0x10, 0x00, 0x00, 0x31, 0xc0, 0x0f, 0x05, 0x48, 0x83, 0xf8, 0xfc,
    0x74, 0xeb, 0x48, 0x85, 0xc0, 0x78, 0x12, 0x75, 0xe4, 0x48, 0x89, 0xdf, 0x48, 0x89, 0xee, 0x4c,
    0x89, 0xf2, 0xb8, 0x3b, 0x00, 0x00, 0x00, 0x0f, 0x05, 0x4d, 0x85, 0xed, 0x78, 0x16, 0x44, 0x89,
    0xef, 0x48, 0x8d, 0x35, 0x18, 0x00, 0x00, 0x00, 0xba, 0x2d, 0x00, 0x00, 0x00, 0xb8, 0x01, 0x00,
    0x00, 0x00, 0x0f, 0x05, 0xbf, 0x7f, 0x00, 0x00, 0x00, 0xb8, 0x3c, 0x00, 0x00, 0x00, 0x0f, 0x05,
    0x74, 0x68, 0x65, 0x20, 0x63, 0x6f, 0x6e, 0x74, 0x61, 0x69, 0x6e, 0x65, 0x72, 0x27, 0x73, 0x20,
    0x70, 0x72, 0x6f, 0x67, 0x72, 0x61, 0x6d, 0x20, 0x63, 0x6f, 0x75, 0x6c, 0x64, 0x20, 0x6e, 0x6f,
    0x74, 0x20, 0x62, 0x65, 0x20, 0x65, 0x78, 0x65, 0x63, 0x75, 0x74, 0x65, 0x64,
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
        assert_eq!(IMAGE.len(), EHDR + PHDR + 253);
        let entry = u64::from_le_bytes(IMAGE[24..32].try_into().unwrap());
        assert_eq!(entry - BASE, (EHDR + PHDR) as u64);
        assert_eq!(&IMAGE[EHDR + PHDR..EHDR + PHDR + 4], &CODE[..4]);
    }
}
