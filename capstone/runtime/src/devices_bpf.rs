//! Device rules on cgroup v2: a small eBPF program, written instruction by instruction.
//!
//! cgroup v2 has no `devices` controller. Instead, whenever a process opens a device node or
//! makes one with `mknod(2)`, the kernel runs the `BPF_PROG_TYPE_CGROUP_DEVICE` programs
//! attached to the process's cgroup and to its ancestors; if any returns 0 the call fails with
//! EPERM (read the kernel's `Documentation/admin-guide/cgroup-v2.rst`, "Device controller",
//! and `Documentation/bpf/`). A program gets one argument, a pointer (in register r1) to
//! `struct bpf_cgroup_dev_ctx` of `include/uapi/linux/bpf.h`:
//!
//! ```text
//! offset 0  u32 access_type   low 16 bits: the node's type  (BPF_DEVCG_DEV_BLOCK 1, _CHAR 2)
//!                             high 16 bits: what is asked   (BPF_DEVCG_ACC_MKNOD 1, _READ 2, _WRITE 4)
//! offset 4  u32 major
//! offset 8  u32 minor
//! ```
//!
//! One request can ask for several accesses at once: `open(O_RDWR)` asks for READ|WRITE.
//!
//! **What the program decides.** The rules are read as v1 reads them when written one after
//! the other: *the last rule that names an access to a device decides it*. The program walks
//! the rules from the last to the first, keeping in r6 the accesses still undecided:
//! - a rule that does not match the device (type, major, minor) is skipped;
//! - a matching *deny* rule that names one of the undecided accesses refuses the request
//!   (every access asked must be allowed);
//! - a matching *allow* rule decides the accesses it names: they leave r6; once r6 is empty,
//!   the request is allowed.
//!
//! Accesses no rule names are allowed, as in a fresh v1 cgroup (whose parent allows all):
//! specs start with a deny-all rule (`a *:* rwm`) when they mean "nothing but". This differs
//! from the v1 kernel only on rules a runtime does not write: v1 reads an `a` rule as "all
//! devices, all accesses" whatever its numbers and letters; and after a deny-all, v1 keeps a
//! list of allowed exceptions from which a deny removes only an equal entry, so `allow c *:*
//! rwm` then `deny c 1:3 r` leaves /dev/null readable there, where the program refuses its
//! reads (stricter).
//!
//! **The instructions** are eBPF's: 8 bytes each, an opcode, two 4-bit register numbers, a
//! 16-bit offset and a 32-bit immediate (`struct bpf_insn`; read
//! `Documentation/bpf/standardization/instruction-set.rst`). This program needs eight
//! opcodes: load a 32-bit word from memory, move a register or a number, and, shift right,
//! jump if equal, jump if not equal, exit.
//! A jump's offset counts the instructions to skip after it. The kernel's verifier checks the
//! program at load time (no uninitialized register read, no out-of-bounds context access,
//! every path ends in `exit` with r0 = 0 or 1).
//!
//! **Loading and attaching** go through `bpf(2)`: `BPF_PROG_LOAD` hands the instructions to
//! the verifier and returns a descriptor of the program; `BPF_PROG_ATTACH` attaches it to a
//! cgroup directory's descriptor with `BPF_F_ALLOW_MULTI` (see [`attach`]). The attachment
//! keeps the program alive: our descriptor is closed right after, and removing the cgroup
//! detaches it.

use super::devices::{Kind, Rule};
use anyhow::{bail, Result};
use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;

/// One eBPF instruction (`struct bpf_insn`): `regs` holds the destination register in its low
/// 4 bits and the source register in its high 4 bits (x86_64 is little-endian: the kernel's
/// `dst_reg:4, src_reg:4` bit-fields are laid out so).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Insn {
    code: u8,
    regs: u8,
    off: i16,
    imm: i32,
}

/// The parts of an opcode (`include/uapi/linux/bpf_common.h` and `bpf.h`): an instruction
/// class, and for each class an operation, a size or a source.
mod op {
    // Classes (low 3 bits).
    pub const LDX: u8 = 0x01; // load from memory into a register
    pub const JMP: u8 = 0x05; // jumps and exit, comparing 64-bit registers
    pub const ALU64: u8 = 0x07; // arithmetic on 64-bit registers
                                // For LDX: the size and the mode.
    pub const W: u8 = 0x00; // a 32-bit word
    pub const MEM: u8 = 0x60; // at the address in the source register + offset
                              // For ALU64 and JMP: the source of the second operand.
    pub const K: u8 = 0x00; // the immediate
    pub const X: u8 = 0x08; // the source register
                            // ALU64 operations.
    pub const AND: u8 = 0x50;
    pub const RSH: u8 = 0x70;
    pub const MOV: u8 = 0xb0;
    // JMP operations.
    pub const JEQ: u8 = 0x10;
    pub const JNE: u8 = 0x50;
    pub const EXIT: u8 = 0x90;
}

/// Registers: r0 is the return value, r1 the first argument (the context pointer); the
/// others are ours to use.
type Reg = u8;
const R0: Reg = 0;
const R1: Reg = 1;
const R2: Reg = 2;
const R3: Reg = 3;
const R4: Reg = 4;
const R5: Reg = 5;
const R6: Reg = 6;

impl Insn {
    const fn new(code: u8, dst: Reg, src: Reg, off: i16, imm: i32) -> Insn {
        Insn {
            code,
            regs: (src << 4) | dst,
            off,
            imm,
        }
    }
    /// `dst = *(u32 *)(src + off)`, zero-extended to 64 bits.
    const fn load_u32(dst: Reg, src: Reg, off: i16) -> Insn {
        Insn::new(op::LDX | op::MEM | op::W, dst, src, off, 0)
    }
    /// `dst = src`.
    const fn mov(dst: Reg, src: Reg) -> Insn {
        Insn::new(op::ALU64 | op::MOV | op::X, dst, src, 0, 0)
    }
    /// `dst = imm`.
    const fn mov_imm(dst: Reg, imm: i32) -> Insn {
        Insn::new(op::ALU64 | op::MOV | op::K, dst, 0, 0, imm)
    }
    /// `dst &= imm` (the immediate sign-extended to 64 bits).
    const fn and_imm(dst: Reg, imm: i32) -> Insn {
        Insn::new(op::ALU64 | op::AND | op::K, dst, 0, 0, imm)
    }
    /// `dst >>= imm` (logical).
    const fn rsh_imm(dst: Reg, imm: i32) -> Insn {
        Insn::new(op::ALU64 | op::RSH | op::K, dst, 0, 0, imm)
    }
    /// `if dst == imm goto +off`.
    const fn jeq_imm(dst: Reg, imm: i32, off: i16) -> Insn {
        Insn::new(op::JMP | op::JEQ | op::K, dst, 0, off, imm)
    }
    /// `if dst != imm goto +off`.
    const fn jne_imm(dst: Reg, imm: i32, off: i16) -> Insn {
        Insn::new(op::JMP | op::JNE | op::K, dst, 0, off, imm)
    }
    /// `return r0`.
    const fn exit() -> Insn {
        Insn::new(op::JMP | op::EXIT, 0, 0, 0, 0)
    }
}

/// `BPF_DEVCG_DEV_BLOCK` and `BPF_DEVCG_DEV_CHAR`: the node types in `access_type`.
const DEV_BLOCK: i32 = 1;
const DEV_CHAR: i32 = 2;

/// The program for `rules` (see the module's documentation for what it decides).
///
/// ```text
///   r2 = ctx->access_type;  r4 = ctx->major;  r5 = ctx->minor
///   r3 = r2 & 0xffff        the node's type
///   r6 = r2 >> 16           the accesses asked, still undecided
///   for each rule, last first:
///     if r3 != TYPE  goto next        (left out for `a`)
///     if r4 != MAJOR goto next        (left out for `*`)
///     if r5 != MINOR goto next        (left out for `*`)
///     deny:  r1 = r6 & ACCESS; if r1 == 0 goto next; return 0
///     allow: r6 &= ~ACCESS;    if r6 != 0 goto next; return 1
///   next: ...
///   return 1                          no rule named what is left
/// ```
pub fn program(rules: &[Rule]) -> Vec<Insn> {
    let mut insns = vec![
        Insn::load_u32(R2, R1, 0),
        Insn::load_u32(R4, R1, 4),
        Insn::load_u32(R5, R1, 8),
        Insn::mov(R3, R2),
        Insn::and_imm(R3, 0xffff),
        Insn::mov(R6, R2),
        Insn::rsh_imm(R6, 16),
    ];
    for rule in rules.iter().rev() {
        let mut checks = Vec::new();
        match rule.kind {
            Kind::All => {}
            Kind::Char => checks.push((R3, DEV_CHAR)),
            Kind::Block => checks.push((R3, DEV_BLOCK)),
        }
        // Majors and minors fit an i32 (12 and 20 bits): compared as non-negative numbers.
        if let Some(major) = rule.major {
            checks.push((R4, major as i32));
        }
        if let Some(minor) = rule.minor {
            checks.push((R5, minor as i32));
        }
        let mask = i32::from(rule.access);
        let body = if rule.allow {
            [
                Insn::and_imm(R6, !mask),
                Insn::jne_imm(R6, 0, 2),
                Insn::mov_imm(R0, 1),
                Insn::exit(),
            ]
        } else {
            [
                Insn::mov(R1, R6),
                Insn::and_imm(R1, mask),
                Insn::jeq_imm(R1, 0, 2),
                Insn::mov_imm(R0, 0),
            ]
        };
        // A failed check skips the rest of the checks, the body (and the deny's exit).
        let tail = body.len() + usize::from(!rule.allow);
        for (i, (reg, value)) in checks.iter().enumerate() {
            let skip = checks.len() - i - 1 + tail;
            insns.push(Insn::jne_imm(*reg, *value, skip as i16));
        }
        insns.extend(body);
        if !rule.allow {
            insns.push(Insn::exit());
        }
    }
    insns.push(Insn::mov_imm(R0, 1));
    insns.push(Insn::exit());
    insns
}

/// `bpf(2)` commands, program and attach types, flags (`include/uapi/linux/bpf.h`).
const BPF_PROG_LOAD: libc::c_long = 5;
const BPF_PROG_ATTACH: libc::c_long = 8;
const BPF_PROG_DETACH: libc::c_long = 9;
const BPF_PROG_GET_FD_BY_ID: libc::c_long = 13;
const BPF_PROG_QUERY: libc::c_long = 16;
const BPF_PROG_TYPE_CGROUP_DEVICE: u32 = 15;
const BPF_CGROUP_DEVICE: u32 = 6;
const BPF_F_ALLOW_MULTI: u32 = 2;

/// The start of `union bpf_attr` as `BPF_PROG_LOAD` reads it. The kernel takes the size we
/// pass and reads the fields it knows up to it (later fields count as zero).
#[repr(C)]
#[derive(Default)]
struct ProgLoadAttr {
    prog_type: u32,
    insn_cnt: u32,
    insns: u64,
    license: u64,
    log_level: u32,
    log_size: u32,
    log_buf: u64,
    kern_version: u32,
    prog_flags: u32,
    prog_name: [u8; 16],
    prog_ifindex: u32,
    expected_attach_type: u32,
}

/// `union bpf_attr` as `BPF_PROG_ATTACH` and `BPF_PROG_DETACH` read it.
#[repr(C)]
#[derive(Default)]
struct ProgAttachAttr {
    target_fd: u32,
    attach_bpf_fd: u32,
    attach_type: u32,
    attach_flags: u32,
}

/// `union bpf_attr` as `BPF_PROG_QUERY` reads it: `prog_cnt` is the room in `prog_ids` on the
/// way in, the number of programs attached on the way out.
#[repr(C)]
#[derive(Default)]
struct ProgQueryAttr {
    target_fd: u32,
    attach_type: u32,
    query_flags: u32,
    attach_flags: u32,
    prog_ids: u64,
    prog_cnt: u32,
}

/// `union bpf_attr` as `BPF_PROG_GET_FD_BY_ID` reads it.
#[repr(C)]
#[derive(Default)]
struct ProgIdAttr {
    prog_id: u32,
    next_id: u32,
    open_flags: u32,
}

/// `bpf(cmd, attr, sizeof *attr)`: the raw system call (the C library has no wrapper).
fn bpf<T>(cmd: libc::c_long, attr: &mut T) -> std::io::Result<libc::c_long> {
    // SAFETY: `attr` is a live, initialized `repr(C)` struct of the layout the kernel expects
    // for `cmd`, and its size is passed with it; the kernel writes only within that size.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            cmd,
            attr as *mut T as *mut libc::c_void,
            std::mem::size_of::<T>() as libc::c_uint,
        )
    };
    match ret {
        -1 => Err(std::io::Error::last_os_error()),
        fd => Ok(fd),
    }
}

/// `BPF_PROG_LOAD` the program. When the verifier refuses it, load it again asking for the
/// verifier's log, which the error then carries.
fn load(program: &[Insn]) -> Result<OwnedFd> {
    let license = CString::new("Apache-2.0").expect("no NUL");
    let mut name = [0u8; 16];
    name[..6].copy_from_slice(b"baleia");
    let attr = |log: &mut [u8]| ProgLoadAttr {
        prog_type: BPF_PROG_TYPE_CGROUP_DEVICE,
        insn_cnt: program.len() as u32,
        insns: program.as_ptr() as u64,
        license: license.as_ptr() as u64,
        log_level: u32::from(!log.is_empty()),
        log_size: log.len() as u32,
        log_buf: if log.is_empty() {
            0
        } else {
            log.as_mut_ptr() as u64
        },
        prog_name: name,
        expected_attach_type: BPF_CGROUP_DEVICE,
        ..ProgLoadAttr::default()
    };
    match bpf(BPF_PROG_LOAD, &mut attr(&mut [])) {
        // SAFETY: a successful BPF_PROG_LOAD returns a new descriptor that nothing else owns.
        Ok(fd) => Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) }),
        Err(error) => {
            let mut log = vec![0u8; 64 * 1024];
            let _ = bpf(BPF_PROG_LOAD, &mut attr(&mut log));
            let end = log.iter().position(|b| *b == 0).unwrap_or(log.len());
            let log = String::from_utf8_lossy(&log[..end]);
            if log.trim().is_empty() {
                bail!("bpf(BPF_PROG_LOAD) of the device program: {error}");
            }
            bail!(
                "bpf(BPF_PROG_LOAD) of the device program: {error}; the verifier says:\n{}",
                log.trim_end()
            )
        }
    }
}

/// Load `program` and attach it to the cgroup v2 directory `cgroup_dir`.
///
/// With `BPF_F_ALLOW_MULTI`, as runc and systemd do: the kernel runs this program *and* those
/// attached with that flag to the cgroup's ancestors, and a device is allowed only when all
/// of them allow it, so a container never gets more than its parent (as in v1, where a child
/// cgroup's rules cannot widen its parent's). Without a flag, an ancestor's program attached
/// with ALLOW_MULTI (systemd's, for a unit with a `DevicePolicy`) would make the attach fail,
/// and nothing could be attached below ours (a runtime inside the container).
pub fn attach(program: &[Insn], cgroup_dir: &Path) -> Result<()> {
    let prog = load(program)?;
    let dir = open_dir(cgroup_dir)?;
    let mut attr = ProgAttachAttr {
        target_fd: dir.as_raw_fd() as u32,
        attach_bpf_fd: prog.as_raw_fd() as u32,
        attach_type: BPF_CGROUP_DEVICE,
        attach_flags: BPF_F_ALLOW_MULTI,
    };
    bpf(BPF_PROG_ATTACH, &mut attr).map_err(|e| {
        anyhow::anyhow!(
            "bpf(BPF_PROG_ATTACH) of the device program to {}: {e}",
            cgroup_dir.display()
        )
    })?;
    Ok(())
}

/// Put `program` in the place of the device programs attached to `cgroup_dir` (`update`).
///
/// New first, old after, as runc does: between the two steps both run and a device must pass
/// both (the stricter of the old and the new rules), but there is no moment with no program
/// at all, when the container could open anything. The old ones are found with
/// `BPF_PROG_QUERY` (the ids of the programs attached to this cgroup itself, not to its
/// ancestors), opened by id (`BPF_PROG_GET_FD_BY_ID`) and detached with `BPF_PROG_DETACH`,
/// which needs the program's descriptor when several are attached (`BPF_F_ALLOW_MULTI`).
/// Detaching the last reference frees a program.
pub fn replace(program: &[Insn], cgroup_dir: &Path) -> Result<()> {
    let old = attached_ids(cgroup_dir)?;
    attach(program, cgroup_dir)?;
    let dir = open_dir(cgroup_dir)?;
    for id in old {
        let mut by_id = ProgIdAttr {
            prog_id: id,
            ..ProgIdAttr::default()
        };
        let fd = bpf(BPF_PROG_GET_FD_BY_ID, &mut by_id)
            .map_err(|e| anyhow::anyhow!("bpf(BPF_PROG_GET_FD_BY_ID) of program {id}: {e}"))?;
        // SAFETY: a successful BPF_PROG_GET_FD_BY_ID returns a new descriptor nothing else owns.
        let prog = unsafe { OwnedFd::from_raw_fd(fd as i32) };
        let mut attr = ProgAttachAttr {
            target_fd: dir.as_raw_fd() as u32,
            attach_bpf_fd: prog.as_raw_fd() as u32,
            attach_type: BPF_CGROUP_DEVICE,
            attach_flags: 0,
        };
        bpf(BPF_PROG_DETACH, &mut attr).map_err(|e| {
            anyhow::anyhow!(
                "bpf(BPF_PROG_DETACH) of device program {id} from {}: {e}",
                cgroup_dir.display()
            )
        })?;
    }
    Ok(())
}

/// The ids of the device programs attached to `cgroup_dir` itself (`BPF_PROG_QUERY`).
pub fn attached_ids(cgroup_dir: &Path) -> Result<Vec<u32>> {
    let dir = open_dir(cgroup_dir)?;
    // The kernel allows at most 64 programs per cgroup and attach type (BPF_CGROUP_MAX_PROGS).
    let mut ids = vec![0u32; 64];
    let mut attr = ProgQueryAttr {
        target_fd: dir.as_raw_fd() as u32,
        attach_type: BPF_CGROUP_DEVICE,
        prog_ids: ids.as_mut_ptr() as u64,
        prog_cnt: ids.len() as u32,
        ..ProgQueryAttr::default()
    };
    bpf(BPF_PROG_QUERY, &mut attr).map_err(|e| {
        anyhow::anyhow!(
            "bpf(BPF_PROG_QUERY) of the device programs of {}: {e}",
            cgroup_dir.display()
        )
    })?;
    ids.truncate(attr.prog_cnt as usize);
    Ok(ids)
}

fn open_dir(cgroup_dir: &Path) -> Result<std::fs::File> {
    std::fs::File::open(cgroup_dir)
        .map_err(|e| anyhow::anyhow!("open {}: {e}", cgroup_dir.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::devices::{access, rules_of, ALWAYS_ALLOWED};

    /// Run the program as the kernel would, on one request: an interpreter of the eight
    /// opcodes it uses, so the rule logic is tested without root.
    fn run(program: &[Insn], typ: i32, asked: u8, major: u32, minor: u32) -> u64 {
        let mut r = [0u64; 11];
        let ctx = [(u32::from(asked) << 16) | typ as u32, major, minor];
        let mut pc = 0;
        loop {
            let i = program[pc];
            let (dst, src) = ((i.regs & 0xf) as usize, (i.regs >> 4) as usize);
            let imm = i.imm as i64 as u64;
            pc += 1;
            match i.code {
                c if c == op::LDX | op::MEM | op::W => {
                    assert_eq!(src, 1, "loads from the context only");
                    r[dst] = u64::from(ctx[i.off as usize / 4]);
                }
                c if c == op::ALU64 | op::MOV | op::X => r[dst] = r[src],
                c if c == op::ALU64 | op::MOV | op::K => r[dst] = imm,
                c if c == op::ALU64 | op::AND | op::K => r[dst] &= imm,
                c if c == op::ALU64 | op::RSH | op::K => r[dst] >>= imm,
                c if c == op::JMP | op::JEQ | op::K && r[dst] == imm => pc += i.off as usize,
                c if c == op::JMP | op::JNE | op::K && r[dst] != imm => pc += i.off as usize,
                c if c == op::JMP | op::JEQ | op::K || c == op::JMP | op::JNE | op::K => {}
                c if c == op::JMP | op::EXIT => return r[0],
                other => panic!("unknown opcode {other:#x}"),
            }
        }
    }

    fn rule(text: &str) -> Rule {
        let (allow, rest) = text.split_once(' ').unwrap();
        let json = serde_json::json!({
            "allow": allow == "allow",
            "type": &rest[..1],
            "major": rest[2..].split(':').next().unwrap().parse::<i64>().ok(),
            "minor": rest.split(':').nth(1).unwrap().split(' ').next().unwrap().parse::<i64>().ok(),
            "access": rest.rsplit(' ').next().unwrap(),
        });
        Rule::from_spec(&serde_json::from_value(json).unwrap()).unwrap()
    }

    const R: u8 = access::READ;
    const W: u8 = access::WRITE;
    const M: u8 = access::MKNOD;

    #[test]
    fn the_last_rule_naming_an_access_decides_it() {
        // Docker's rules: deny all, then the standard devices; the runtime's come after.
        let mut rules = vec![rule("deny a *:* rwm")];
        rules.extend(ALWAYS_ALLOWED);
        rules.push(rule("allow b 7:0 r")); // --device /dev/loop0:/dev/loop0:r
        let p = program(&rules);
        assert_eq!(run(&p, DEV_CHAR, R | W, 1, 3), 1, "/dev/null rw");
        assert_eq!(run(&p, DEV_CHAR, R, 136, 4), 1, "a devpts terminal");
        assert_eq!(run(&p, DEV_BLOCK, R, 8, 0), 0, "the host's disk");
        assert_eq!(run(&p, DEV_BLOCK, M, 8, 0), 1, "making a node");
        assert_eq!(run(&p, DEV_CHAR, W, 1, 11), 0, "/dev/kmsg");
        assert_eq!(run(&p, DEV_BLOCK, R, 7, 0), 1, "loop0 read");
        assert_eq!(run(&p, DEV_BLOCK, R | W, 7, 0), 0, "loop0 read and write");
        assert_eq!(run(&p, DEV_BLOCK, R, 7, 1), 0, "loop1");
        assert_eq!(run(&p, DEV_CHAR, R, 7, 0), 0, "a char 7:0 is not block 7:0");

        // A later deny wins over an earlier allow, and the other way round.
        let p = program(&[rule("allow c *:* rwm"), rule("deny c 1:3 w")]);
        assert_eq!(run(&p, DEV_CHAR, R, 1, 3), 1);
        assert_eq!(run(&p, DEV_CHAR, R | W, 1, 3), 0);
        assert_eq!(run(&p, DEV_CHAR, W, 1, 5), 1);
        // Allows of separate accesses add up (v1 merges them too).
        let p = program(&[
            rule("deny a *:* rwm"),
            rule("allow c 1:3 r"),
            rule("allow c 1:3 w"),
        ]);
        assert_eq!(run(&p, DEV_CHAR, R | W, 1, 3), 1);
        assert_eq!(run(&p, DEV_CHAR, M, 1, 3), 0);
        // What no rule names is allowed (a fresh v1 cgroup); nothing at all is no program.
        let p = program(&[rule("deny b 8:* rwm")]);
        assert_eq!(run(&p, DEV_BLOCK, R, 8, 1), 0);
        assert_eq!(run(&p, DEV_BLOCK, R, 9, 1), 1);
        assert!(rules_of(&[]).unwrap().is_empty());
        // The engine's list (Docker's) already holds the fixed allows: not written twice.
        let spec: Vec<oci_spec::runtime::LinuxDeviceCgroup> =
            serde_json::from_value(serde_json::json!([{"allow": false, "access": "rwm"},
                {"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rwm"},
                {"allow": true, "type": "b", "major": 7, "minor": 0, "access": "r"}]))
            .unwrap();
        let rules = rules_of(&spec).unwrap();
        assert_eq!(rules.len(), 2 + ALWAYS_ALLOWED.len());
        assert_eq!(rules[1].to_string(), "b 7:0 r");
    }

    #[test]
    fn rules_read_from_the_spec() {
        assert_eq!(rule("deny a *:* rwm").to_string(), "a *:* rwm");
        assert_eq!(rule("allow c 136:* wr").to_string(), "c 136:* rw");
        let bad = |json| {
            Rule::from_spec(&serde_json::from_value(json).unwrap())
                .unwrap_err()
                .to_string()
        };
        // runc's suite writes `rwa`: the unknown letter is left out (with a warning), as runc
        // does; a rule left with no access at all decides nothing and is dropped.
        assert_eq!(rule("deny c 1:11 rwa").to_string(), "c 1:11 rw");
        let spec: Vec<oci_spec::runtime::LinuxDeviceCgroup> =
            serde_json::from_value(serde_json::json!([{"allow": false, "access": "rwm"},
                {"allow": true, "type": "c", "major": 1, "minor": 11, "access": "x"}]))
            .unwrap();
        assert_eq!(rules_of(&spec).unwrap().len(), 1 + ALWAYS_ALLOWED.len());
        assert!(
            bad(serde_json::json!({"allow": true, "type": "c", "major": 4096, "access": "r"}))
                .contains("major 4096")
        );
        assert!(bad(serde_json::json!({"allow": true, "type": "p"})).contains("FIFO"));
    }

    /// The kernel's side, as root: a cgroup2 directory with the program attached (the host's
    /// /sys/fs/cgroup on v2, /sys/fs/cgroup/unified on a hybrid host: device programs work on
    /// any cgroup2 directory), a child process moved into it, and what it may open.
    #[test]
    fn the_kernel_refuses_what_the_program_denies() {
        let root = ["/sys/fs/cgroup", "/sys/fs/cgroup/unified"]
            .into_iter()
            .map(Path::new)
            .find(|dir| {
                nix::sys::statfs::statfs(*dir)
                    .is_ok_and(|fs| fs.filesystem_type() == nix::sys::statfs::CGROUP2_SUPER_MAGIC)
            })
            .expect("a cgroup2 mount (the program needs one)");
        let cgroup = root.join(format!("baleia-devices-test-{}", std::process::id()));
        std::fs::create_dir(&cgroup).unwrap();
        // Where the child makes a block node: a file system that allows device nodes (on a
        // `nodev` one, opening any node fails with EACCES before the cgroup is asked).
        let nodes =
            std::env::temp_dir().join(format!("baleia-devices-test-{}", std::process::id()));
        std::fs::create_dir(&nodes).unwrap();

        let rules = rules_of(&[serde_json::from_value(
            serde_json::json!({"allow": false, "access": "rwm"}),
        )
        .unwrap()])
        .unwrap();
        let attached = attach(&program(&rules), &cgroup);
        let outcome = attached.map(|()| run_child(&cgroup, &nodes));
        // `update`: a new program takes the old one's place (one attached before and after).
        let replaced = attached_ids(&cgroup).and_then(|before| {
            replace(&program(&rules), &cgroup)?;
            Ok((before, attached_ids(&cgroup)?))
        });
        let _ = std::fs::remove_dir_all(&nodes);
        ch02_cgroups::cgroup::rmdir_when_released(&cgroup).unwrap();
        let code = outcome.unwrap();
        let (before, after) = replaced.unwrap();
        assert_eq!((before.len(), after.len()), (1, 1), "{before:?} {after:?}");
        assert_ne!(before, after, "the program was not replaced");
        let failed = [
            "",
            "could not join the cgroup",
            "/dev/null did not open",
            "/dev/kmsg opened",
            "/dev/kmsg failed, but not with EPERM",
            "mknod of a block node failed (mknod is allowed)",
            "the block node opened",
            "the block node failed, but not with EPERM",
        ];
        assert_eq!(code, 0, "{}", failed.get(code as usize).unwrap_or(&"?"));
    }

    /// Fork a child that joins `cgroup` and tries its devices; its exit code says what went
    /// wrong (0: nothing). Between fork and exit it only makes system calls: the test runner
    /// is multi-threaded, and the child may not take a lock another thread held.
    fn run_child(cgroup: &Path, nodes: &Path) -> i32 {
        use std::os::unix::ffi::OsStrExt;
        let c = |p: &Path| CString::new(p.as_os_str().as_bytes()).unwrap();
        let procs = c(&cgroup.join("cgroup.procs"));
        let disk = c(&nodes.join("disk"));
        // SAFETY: the child calls only async-signal-safe functions on memory made before the
        // fork, then `_exit`s.
        unsafe {
            let pid = libc::fork();
            assert!(pid >= 0, "fork: {}", std::io::Error::last_os_error());
            if pid == 0 {
                let errno = || *libc::__errno_location();
                let fd = libc::open(procs.as_ptr(), libc::O_WRONLY);
                if fd < 0 || libc::write(fd, b"0".as_ptr().cast(), 1) != 1 {
                    libc::_exit(1);
                }
                libc::close(fd);
                if libc::open(c"/dev/null".as_ptr(), libc::O_RDWR) < 0 {
                    libc::_exit(2);
                }
                if libc::open(c"/dev/kmsg".as_ptr(), libc::O_RDONLY | libc::O_NONBLOCK) >= 0 {
                    libc::_exit(3);
                }
                if errno() != libc::EPERM {
                    libc::_exit(4);
                }
                // 7:0 is /dev/loop0; any block device would do.
                if libc::mknod(disk.as_ptr(), libc::S_IFBLK | 0o600, libc::makedev(7, 0)) != 0 {
                    libc::_exit(5);
                }
                if libc::open(disk.as_ptr(), libc::O_RDONLY | libc::O_NONBLOCK) >= 0 {
                    libc::_exit(6);
                }
                libc::_exit(if errno() == libc::EPERM { 0 } else { 7 });
            }
            let mut status = 0;
            assert_eq!(libc::waitpid(pid, &mut status, 0), pid);
            assert!(libc::WIFEXITED(status), "the child died: {status:#x}");
            libc::WEXITSTATUS(status)
        }
    }
}
