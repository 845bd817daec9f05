//! The bench's reference for accepting an invite: how long one Argon2id hash takes at the
//! parameters Tether is configured with. Prints the median of `N` (default 15) hashes in
//! milliseconds; the bench turns it into cores ÷ hash time.

use std::time::Instant;

use argon2::password_hash::{PasswordHasher, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use tether::domain::password::{ARGON2_M_COST_KIB, ARGON2_P_COST, ARGON2_T_COST};

fn main() -> Result<(), String> {
    let hashes: usize = match std::env::args().nth(1) {
        Some(n) => n.parse().map_err(|e| format!("not a count: {e}"))?,
        None => 15,
    };
    let params = Params::new(ARGON2_M_COST_KIB, ARGON2_T_COST, ARGON2_P_COST, None)
        .map_err(|e| e.to_string())?;
    let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
    let salt = SaltString::from_b64("YmVuY2hzYWx0YmVuY2hzYWx0").map_err(|e| e.to_string())?;
    let mut millis = Vec::with_capacity(hashes);
    for _ in 0..hashes.max(1) {
        let start = Instant::now();
        argon2
            .hash_password(b"correct horse battery staple", &salt)
            .map_err(|e| e.to_string())?;
        millis.push(start.elapsed().as_secs_f64() * 1000.0);
    }
    millis.sort_by(f64::total_cmp);
    println!("{:.3}", millis[millis.len() / 2]);
    Ok(())
}
