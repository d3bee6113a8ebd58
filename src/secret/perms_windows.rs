//! Windows: who may change (or read) a file adsync trusts, read from the file's access list (DACL)
//! instead of Unix modes. A file is refused when its DACL is missing (a NULL DACL lets everyone do
//! anything), or when an allow entry that applies to the file grants write access — or, for
//! secrets and keys, read access — to anyone but its owner, SYSTEM, the Administrators group and
//! the service's virtual account `NT SERVICE\adsync`; or when it is owned by someone else than
//! the caller or one of those (an owner can always rewrite the access list).
//!
//! Code only: no Windows toolchain builds or runs it where adsync is developed (see the README).

use std::ffi::c_void;
use std::os::windows::ffi::OsStrExt;
use std::path::Path;
use std::ptr::null_mut;

use windows_sys::Win32::Foundation::{
    CloseHandle, ERROR_SUCCESS, GENERIC_ALL, GENERIC_READ, GENERIC_WRITE, HANDLE, LocalFree,
};
use windows_sys::Win32::Security::Authorization::{
    ConvertSidToStringSidW, GetNamedSecurityInfoW, SE_FILE_OBJECT,
};
use windows_sys::Win32::Security::{
    ACCESS_ALLOWED_ACE, ACL, DACL_SECURITY_INFORMATION, GetAce, GetTokenInformation,
    INHERIT_ONLY_ACE, LookupAccountNameW, LookupAccountSidW, OWNER_SECURITY_INFORMATION,
    PSECURITY_DESCRIPTOR, PSID, SID_NAME_USE, TOKEN_QUERY, TOKEN_USER, TokenUser,
};
use windows_sys::Win32::Storage::FileSystem::{
    DELETE, FILE_GENERIC_WRITE, FILE_READ_DATA, READ_CONTROL, SYNCHRONIZE, WRITE_DAC, WRITE_OWNER,
};
use windows_sys::Win32::System::SystemServices::ACCESS_ALLOWED_ACE_TYPE;
use windows_sys::Win32::System::Threading::{GetCurrentProcess, OpenProcessToken};

use super::{Sensitivity, Unsafe};

/// Rights that change the file, its access list or its owner, or delete it. `FILE_GENERIC_WRITE`
/// also holds READ_CONTROL and SYNCHRONIZE, which every reader has: alone they change nothing.
const WRITE_RIGHTS: u32 = (FILE_GENERIC_WRITE & !(READ_CONTROL | SYNCHRONIZE))
    | WRITE_DAC
    | WRITE_OWNER
    | DELETE
    | GENERIC_WRITE
    | GENERIC_ALL;

/// Rights that read the file's content (reading its attributes or its ACL reveals no secret).
const READ_RIGHTS: u32 = FILE_READ_DATA | GENERIC_READ | GENERIC_ALL;

/// Who may own the file and hold those rights besides the caller and the service: SYSTEM and
/// BUILTIN\Administrators (an elevated administrator's files belong to the group).
const SYSTEM_AND_ADMINISTRATORS: [&str; 2] = ["S-1-5-18", "S-1-5-32-544"];

/// OWNER RIGHTS: an entry for it grants the owner, whoever that is.
const OWNER_RIGHTS: &str = "S-1-3-4";

/// Checks the DACL of `path` for `sensitivity`. A file whose security cannot be read (missing,
/// or no right to read its ACL) passes: reading it will fail with its own message.
pub(super) fn check(path: &Path, sensitivity: Sensitivity) -> Result<(), Unsafe> {
    let wide: Vec<u16> = path.as_os_str().encode_wide().chain(Some(0)).collect();
    let mut owner: PSID = null_mut();
    let mut dacl: *mut ACL = null_mut();
    let mut descriptor: PSECURITY_DESCRIPTOR = null_mut();
    // SAFETY: `wide` is NUL-terminated and outlives the call; every out pointer is a live local.
    // On success the owner and DACL point into `descriptor`, which `_descriptor` frees last.
    let rc = unsafe {
        GetNamedSecurityInfoW(
            wide.as_ptr(),
            SE_FILE_OBJECT,
            OWNER_SECURITY_INFORMATION | DACL_SECURITY_INFORMATION,
            &mut owner,
            null_mut(),
            &mut dacl,
            null_mut(),
            &mut descriptor,
        )
    };
    if rc != ERROR_SUCCESS {
        return Ok(());
    }
    let _descriptor = LocalMemory(descriptor);

    let shown = path.display().to_string();
    let service = service_sid();
    let mut fix = format!(
        "run in cmd: `icacls \"{shown}\" /inheritance:r /grant:r \"%USERNAME%:F\" /grant \
         \"*S-1-5-18:F\" /grant \"*S-1-5-32-544:F\""
    );
    if let Some(sid) = &service {
        fix.push_str(&format!(" /grant \"*{sid}:R\""));
    }
    fix.push('`');
    let refuse = |problem: String| {
        Err(Unsafe {
            subject: shown.clone(),
            problem,
            fix: fix.clone(),
        })
    };

    let owner_sid = owner;
    let owner = sid_string(owner_sid);
    if let Some(text) = &owner
        && Some(text) != caller_sid().as_ref()
        && Some(text) != service.as_ref()
        && !SYSTEM_AND_ADMINISTRATORS.contains(&text.as_str())
    {
        let who = account_name(owner_sid).unwrap_or_else(|| text.clone());
        return Err(Unsafe {
            subject: shown.clone(),
            problem: format!("is owned by `{who}`, not you, SYSTEM or Administrators"),
            fix: format!(
                "run in cmd as an administrator: `icacls \"{shown}\" /setowner \"%USERNAME%\"` \
                 (or move it to a file you own)"
            ),
        });
    }
    if dacl.is_null() {
        return refuse("has no access list (a NULL DACL): everyone may read and change it".into());
    }
    // SAFETY: `dacl` is non-null and points at the ACL header inside `descriptor`.
    let count = unsafe { (*dacl).AceCount };
    for index in 0..u32::from(count) {
        let mut ace: *mut c_void = null_mut();
        // SAFETY: `index` is below the ACL's entry count; `ace` is a live local.
        if unsafe { GetAce(dacl, index, &mut ace) } == 0 || ace.is_null() {
            continue;
        }
        // SAFETY: every ACE holds a header, a mask and a SID (16 bytes at least), so the 12 bytes
        // of an ACCESS_ALLOWED_ACE lie inside it; the mask is used only once the type says it is
        // one. Read unaligned to assume nothing about alignment.
        let entry = unsafe { ace.cast::<ACCESS_ALLOWED_ACE>().read_unaligned() };
        let applies_to_file = u32::from(entry.Header.AceFlags) & INHERIT_ONLY_ACE == 0;
        if u32::from(entry.Header.AceType) != ACCESS_ALLOWED_ACE_TYPE || !applies_to_file {
            continue;
        }
        // SAFETY: the SID starts at `SidStart` inside the ACE.
        let sid: PSID = unsafe {
            ace.cast::<u8>()
                .add(std::mem::offset_of!(ACCESS_ALLOWED_ACE, SidStart))
                .cast()
        };
        let text = sid_string(sid);
        let trusted = text.as_ref().is_some_and(|text| {
            Some(text) == owner.as_ref()
                || Some(text) == service.as_ref()
                || text == OWNER_RIGHTS
                || SYSTEM_AND_ADMINISTRATORS.contains(&text.as_str())
        });
        if trusted {
            continue;
        }
        let who = account_name(sid)
            .or(text)
            .unwrap_or_else(|| "an account Windows cannot name".to_owned());
        if entry.Mask & WRITE_RIGHTS != 0 {
            return refuse(format!(
                "can be changed by `{who}` (its access list grants write access)"
            ));
        }
        if sensitivity == Sensitivity::Private && entry.Mask & READ_RIGHTS != 0 {
            return refuse(format!(
                "can be read by `{who}` (its access list grants read access), and it holds a \
                 secret"
            ));
        }
    }
    Ok(())
}

/// Memory Windows allocated for us with LocalAlloc, freed when dropped.
struct LocalMemory(*mut c_void);

impl Drop for LocalMemory {
    fn drop(&mut self) {
        // SAFETY: the pointer came from a call that documents LocalFree as its release (or is
        // null, which LocalFree ignores); it is freed once, here.
        unsafe { LocalFree(self.0) };
    }
}

/// A handle Windows opened for us, closed when dropped.
struct OwnedHandle(HANDLE);

impl Drop for OwnedHandle {
    fn drop(&mut self) {
        // SAFETY: the handle was opened by a successful call and is closed once, here.
        unsafe { CloseHandle(self.0) };
    }
}

/// The SID of the user this process runs as, as text.
fn caller_sid() -> Option<String> {
    let mut token: HANDLE = null_mut();
    // SAFETY: GetCurrentProcess returns a pseudo-handle that needs no closing; `token` is a live
    // local the call fills.
    if unsafe { OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &mut token) } == 0 {
        return None;
    }
    let _token = OwnedHandle(token);
    let mut len = 0u32;
    // SAFETY: a sizing call: no buffer and a zero length; `len` receives the size needed.
    unsafe { GetTokenInformation(token, TokenUser, null_mut(), 0, &mut len) };
    if (len as usize) < std::mem::size_of::<TOKEN_USER>() {
        return None;
    }
    // u64 words keep the TOKEN_USER (it holds a pointer) aligned.
    let mut buffer = vec![0u64; (len as usize).div_ceil(8)];
    // SAFETY: the buffer is live and at least `len` bytes long.
    let ok =
        unsafe { GetTokenInformation(token, TokenUser, buffer.as_mut_ptr().cast(), len, &mut len) };
    if ok == 0 {
        return None;
    }
    // SAFETY: on success the buffer starts with a TOKEN_USER whose SID points into the buffer,
    // which lives until `sid_string` has copied it out.
    let user = unsafe { buffer.as_ptr().cast::<TOKEN_USER>().read() };
    sid_string(user.User.Sid)
}

/// A SID as text, e.g. `S-1-5-32-545`.
fn sid_string(sid: PSID) -> Option<String> {
    if sid.is_null() {
        return None;
    }
    let mut text: *mut u16 = null_mut();
    // SAFETY: `sid` points at a valid SID; `text` is a live local the call fills.
    if unsafe { ConvertSidToStringSidW(sid, &mut text) } == 0 || text.is_null() {
        return None;
    }
    let _text = LocalMemory(text.cast());
    let mut len = 0;
    // SAFETY: on success `text` is a NUL-terminated string: read up to, not past, the NUL.
    while unsafe { *text.add(len) } != 0 {
        len += 1;
    }
    // SAFETY: the `len` characters before the NUL are initialised.
    let chars = unsafe { std::slice::from_raw_parts(text, len) };
    Some(String::from_utf16_lossy(chars))
}

/// `DOMAIN\name` of a SID, when Windows can name it.
fn account_name(sid: PSID) -> Option<String> {
    let (mut name_len, mut domain_len) = (0u32, 0u32);
    let mut kind: SID_NAME_USE = 0;
    // SAFETY: a sizing call: null buffers with zero lengths, which the call fills in.
    unsafe {
        LookupAccountSidW(
            std::ptr::null(),
            sid,
            null_mut(),
            &mut name_len,
            null_mut(),
            &mut domain_len,
            &mut kind,
        )
    };
    if name_len == 0 {
        return None;
    }
    let mut name = vec![0u16; name_len as usize];
    let mut domain = vec![0u16; domain_len.max(1) as usize];
    domain_len = domain.len() as u32;
    // SAFETY: both buffers are live and as long as the lengths passed with them.
    let ok = unsafe {
        LookupAccountSidW(
            std::ptr::null(),
            sid,
            name.as_mut_ptr(),
            &mut name_len,
            domain.as_mut_ptr(),
            &mut domain_len,
            &mut kind,
        )
    };
    if ok == 0 {
        return None;
    }
    // On success the lengths are the characters written, without the NUL.
    let name = String::from_utf16_lossy(&name[..name_len as usize]);
    let domain = String::from_utf16_lossy(&domain[..domain_len as usize]);
    Some(if domain.is_empty() {
        name
    } else {
        format!("{domain}\\{name}")
    })
}

/// The SID of the service's virtual account, as text, when the service is installed (Windows
/// names the account only then).
fn service_sid() -> Option<String> {
    let account: Vec<u16> = crate::service::windows::ACCOUNT
        .encode_utf16()
        .chain(Some(0))
        .collect();
    let (mut sid_len, mut domain_len) = (0u32, 0u32);
    let mut kind: SID_NAME_USE = 0;
    // SAFETY: a sizing call: null buffers with zero lengths, which the call fills in.
    unsafe {
        LookupAccountNameW(
            std::ptr::null(),
            account.as_ptr(),
            null_mut(),
            &mut sid_len,
            null_mut(),
            &mut domain_len,
            &mut kind,
        )
    };
    if sid_len == 0 {
        return None;
    }
    // u32 words keep the SID 4-byte aligned, as its sub-authorities need.
    let mut sid = vec![0u32; (sid_len as usize).div_ceil(4)];
    let mut domain = vec![0u16; domain_len.max(1) as usize];
    domain_len = domain.len() as u32;
    // SAFETY: both buffers are live and at least as long as the lengths passed with them.
    let ok = unsafe {
        LookupAccountNameW(
            std::ptr::null(),
            account.as_ptr(),
            sid.as_mut_ptr().cast(),
            &mut sid_len,
            domain.as_mut_ptr(),
            &mut domain_len,
            &mut kind,
        )
    };
    if ok == 0 {
        return None;
    }
    sid_string(sid.as_mut_ptr().cast())
}
