//! Linux's membarrier: one thread forces a full memory barrier on every other thread of the
//! process. It lets an [`Instance`](super::Instance) skip its lock for the thread it is biased to
//! (see `Instance::lock`): that thread's side of the handshake needs only a compiler fence, and the
//! rare thread that takes the instance over pays for this system call once.

/// Whether this process can use [`barrier`]: registers it with the kernel on the first call.
/// False elsewhere than Linux, under Miri, and where the kernel or a sandbox refuses it.
pub(super) fn available() -> bool {
    #[cfg(all(target_os = "linux", not(miri)))]
    {
        use std::sync::OnceLock;
        static REGISTERED: OnceLock<bool> = OnceLock::new();
        *REGISTERED.get_or_init(|| membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED) == 0)
    }
    #[cfg(not(all(target_os = "linux", not(miri))))]
    {
        false
    }
}

/// A full memory barrier on every running thread of the process. Only called once [`available`]
/// said yes.
pub(super) fn barrier() {
    #[cfg(all(target_os = "linux", not(miri)))]
    {
        // A forked child starts unregistered: register it, then try again.
        if membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED) != 0
            && (membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED) != 0 || membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED) != 0)
        {
            panic!("membarrier failed: {}", std::io::Error::last_os_error());
        }
    }
    #[cfg(not(all(target_os = "linux", not(miri))))]
    unreachable!("membarrier is not available here");
}

#[cfg(all(target_os = "linux", not(miri)))]
const MEMBARRIER_CMD_PRIVATE_EXPEDITED: libc::c_int = 1 << 3;
#[cfg(all(target_os = "linux", not(miri)))]
const MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED: libc::c_int = 1 << 4;

#[cfg(all(target_os = "linux", not(miri)))]
fn membarrier(command: libc::c_int) -> libc::c_long {
    // SAFETY: membarrier takes no pointers.
    unsafe { libc::syscall(libc::SYS_membarrier, command, 0, 0) }
}
