//! Passwords: the policy of product.md §3 and Argon2id hashing (quality.md Security 7) on
//! a few threads of its own, off the async runtime, so an accept storm never stalls page serving.

use std::cell::RefCell;
use std::fmt;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex, OnceLock, PoisonError};

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{self, Output, ParamsString, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use tokio::sync::oneshot;

use super::email::Email;
use super::error::{Error, FieldError, Result};

pub const MIN_CHARS: usize = 12;
pub const MAX_CHARS: usize = 128;
/// zxcvbn's score runs 0 to 4; 3 is "safely unguessable: moderate protection from offline
/// slow-hash scenario".
pub const MIN_STRENGTH: u8 = 3;

/// Argon2id at the parameters OWASP recommends and quality.md requires.
pub const ARGON2_M_COST_KIB: u32 = 19_456;
pub const ARGON2_T_COST: u32 = 2;
pub const ARGON2_P_COST: u32 = 1;

/// A password in the clear. `Debug` prints a placeholder.
#[derive(Clone)]
pub struct Password(String);

impl Password {
    /// A password as typed at sign-in: not checked against the policy, only verified. No
    /// password longer than `MAX_CHARS` can be chosen, so one character more is kept of a
    /// longer one: it still matches nothing, and a queued hash holds no megabytes.
    pub fn presented(value: impl Into<String>) -> Self {
        let mut value = value.into();
        if let Some((cut, _)) = value.char_indices().nth(MAX_CHARS + 1) {
            value.truncate(cut);
        }
        Self(value)
    }

    /// A new password, checked against the policy. `context` holds words that make a guess
    /// easier (the person's name, the tenant's name), which the strength estimate counts.
    pub fn choose(
        value: &str,
        email: Option<&Email>,
        context: &[&str],
    ) -> Result<Self, FieldError> {
        let length = value.chars().count();
        if length < MIN_CHARS {
            return Err(FieldError::new(
                "password",
                "password_too_short",
                format!("Use at least {MIN_CHARS} characters."),
            ));
        }
        if length > MAX_CHARS {
            return Err(FieldError::new(
                "password",
                "password_too_long",
                format!("Use at most {MAX_CHARS} characters."),
            ));
        }
        if let Some(email) = email {
            let local = email.local_part();
            // A one- or two-letter local part would forbid half the alphabet; it is still
            // fed to the strength estimate below.
            if local.chars().count() >= 3 && value.to_lowercase().contains(local) {
                return Err(FieldError::new(
                    "password",
                    "password_contains_email",
                    "Your password must not contain your email address.",
                ));
            }
        }
        let mut inputs: Vec<&str> = context.to_vec();
        if let Some(email) = email {
            inputs.push(email.as_str());
            inputs.push(email.local_part());
        }
        let estimate = zxcvbn::zxcvbn(value, &inputs);
        if (estimate.score() as u8) < MIN_STRENGTH {
            return Err(FieldError::new(
                "password",
                "password_too_weak",
                weakness_message(&estimate),
            ));
        }
        Ok(Self(value.to_owned()))
    }

    fn expose(&self) -> &str {
        &self.0
    }
}

fn weakness_message(estimate: &zxcvbn::Entropy) -> String {
    let mut message = String::from("This password is too easy to guess.");
    if let Some(feedback) = estimate.feedback() {
        if let Some(warning) = feedback.warning() {
            message.push(' ');
            message.push_str(&warning.to_string());
        }
        for suggestion in feedback.suggestions() {
            message.push(' ');
            message.push_str(&suggestion.to_string());
        }
    }
    if estimate
        .feedback()
        .is_none_or(|f| f.suggestions().is_empty())
    {
        message.push_str(" Add more words or characters that are hard to predict.");
    }
    message
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

/// The PHC string of an Argon2id hash, as stored.
#[derive(Clone, PartialEq, Eq)]
pub struct PasswordDigest(String);

impl PasswordDigest {
    pub(crate) fn from_stored(stored: String) -> Self {
        Self(stored)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for PasswordDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PasswordDigest(<redacted>)")
    }
}

fn argon2() -> Result<Argon2<'static>> {
    let params = Params::new(ARGON2_M_COST_KIB, ARGON2_T_COST, ARGON2_P_COST, None)
        .map_err(|e| Error::Internal(format!("invalid Argon2 parameters: {e}")))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

type Job = Box<dyn FnOnce() + Send>;

/// Hashes and verifies passwords on a fixed set of threads of its own, so at most that many
/// hashes run at once and the async runtime never waits on one.
///
/// Why not tokio's `spawn_blocking`: each Argon2 hash allocates its 19 MiB, and glibc keeps
/// a freed block of that size in the arena of the thread that freed it. The blocking pool
/// spreads successive hashes over many threads, each of which then holds its 19 MiB: 256
/// concurrent accepts took the server to 356 MiB. A few long-lived threads hold it once each.
///
/// The queue is bounded: past `threads × QUEUE_PER_THREAD` waiting hashes a request is told
/// to come back (`429` with `Retry-After`) instead of queueing without end, and a hash whose
/// caller has gone (the client hung up) is skipped when its turn comes.
#[derive(Clone)]
pub struct PasswordHasher {
    jobs: mpsc::Sender<Job>,
    /// Hashes accepted and not yet finished or skipped.
    waiting: Arc<AtomicUsize>,
    limit: usize,
    /// Hashes computed, for tests of the skipping.
    computed: Arc<AtomicUsize>,
}

/// About eight seconds of work per thread at 33 ms a hash.
const QUEUE_PER_THREAD: usize = 256;

/// Counts a hash as waiting until it is dropped: run, skipped, or never sent.
struct Waiting(Arc<AtomicUsize>);

impl Drop for Waiting {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl PasswordHasher {
    /// Starts `threads` hashing threads; they end when the last clone is dropped.
    pub fn new(threads: usize) -> std::io::Result<Self> {
        Self::with_queue_limit(threads, threads.max(1) * QUEUE_PER_THREAD)
    }

    /// As `new`, with at most `limit` hashes waiting or running at once.
    pub fn with_queue_limit(threads: usize, limit: usize) -> std::io::Result<Self> {
        let (jobs, queue) = mpsc::channel::<Job>();
        let queue = Arc::new(Mutex::new(queue));
        for n in 0..threads.max(1) {
            let queue = Arc::clone(&queue);
            std::thread::Builder::new()
                .name(format!("tether-hash-{n}"))
                .spawn(move || loop {
                    let next = queue.lock().unwrap_or_else(PoisonError::into_inner).recv();
                    let Ok(job) = next else { break };
                    // A job reports its own outcome; a panic in one must not end the thread.
                    let _ = std::panic::catch_unwind(AssertUnwindSafe(job));
                })?;
        }
        Ok(Self {
            jobs,
            waiting: Arc::default(),
            limit,
            computed: Arc::default(),
        })
    }

    /// One hashing thread per core.
    pub fn per_core() -> std::io::Result<Self> {
        Self::new(std::thread::available_parallelism().map_or(2, usize::from))
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> Result<T> + Send + 'static,
    ) -> Result<T> {
        if self.waiting.fetch_add(1, Ordering::AcqRel) >= self.limit {
            self.waiting.fetch_sub(1, Ordering::AcqRel);
            return Err(Error::RateLimited {
                retry_after_secs: 1,
            });
        }
        let waiting = Waiting(Arc::clone(&self.waiting));
        let computed = Arc::clone(&self.computed);
        let (done, outcome) = oneshot::channel();
        let job: Job = Box::new(move || {
            let _waiting = waiting;
            // The request went away while this waited: nobody wants the answer.
            if done.is_closed() {
                return;
            }
            computed.fetch_add(1, Ordering::Relaxed);
            let _ = done.send(work());
        });
        self.jobs
            .send(job)
            .map_err(|_| Error::Internal("the password hashing threads have stopped".into()))?;
        outcome
            .await
            .map_err(|_| Error::Internal("password hashing failed".into()))?
    }

    pub async fn hash(&self, password: &Password) -> Result<PasswordDigest> {
        let password = password.clone();
        self.run(move || hash_now(&password)).await
    }

    /// Checks a password against a stored digest. With no digest (an unknown email) it
    /// verifies against a dummy hash anyway, so that the answer takes the same time.
    pub async fn verify(
        &self,
        password: &Password,
        digest: Option<&PasswordDigest>,
    ) -> Result<bool> {
        let password = password.clone();
        let digest = digest.cloned();
        self.run(move || {
            let (phc, known) = match &digest {
                Some(digest) => (digest.as_str().to_owned(), true),
                None => (dummy_digest()?.as_str().to_owned(), false),
            };
            let parsed = PasswordHash::new(&phc).map_err(|e| {
                Error::Internal(format!("a stored password hash is unreadable: {e}"))
            })?;
            let matches = verify_now(&password, &parsed)?;
            Ok(known && matches)
        })
        .await
    }
}

thread_local! {
    /// Argon2's 19 MiB of working memory, kept by each hashing thread from one hash to the
    /// next: a fresh allocation per hash would cost the page faults of touching it all again.
    static MEMORY: RefCell<Vec<Block>> = const { RefCell::new(Vec::new()) };
}

/// Argon2 over this thread's kept memory: what `Argon2::hash_password_into` does, minus its
/// allocation.
fn argon2_into(argon2: &Argon2<'_>, password: &[u8], salt: &[u8], out: &mut [u8]) -> Result<()> {
    let blocks = argon2.params().block_count();
    MEMORY
        .with_borrow_mut(|memory| {
            if memory.len() < blocks {
                memory.resize(blocks, Block::default());
            }
            argon2.hash_password_into_with_memory(password, salt, out, &mut memory[..blocks])
        })
        .map_err(|e| Error::Internal(format!("password hashing failed: {e}")))
}

/// The PHC string of a new hash, built as argon2's own `PasswordHasher::hash_password` does.
fn hash_now(password: &Password) -> Result<PasswordDigest> {
    let failed = |e: password_hash::Error| Error::Internal(format!("password hashing failed: {e}"));
    let argon2 = argon2()?;
    let salt = SaltString::generate(&mut OsRng);
    let mut salt_buffer = [0u8; 64];
    let salt_bytes = salt.decode_b64(&mut salt_buffer).map_err(failed)?;
    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    argon2_into(&argon2, password.expose().as_bytes(), salt_bytes, &mut out)?;
    let phc = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(argon2.params()).map_err(failed)?,
        salt: Some(salt.as_salt()),
        hash: Some(Output::new(&out).map_err(failed)?),
    };
    Ok(PasswordDigest(phc.to_string()))
}

/// Whether `password` hashes to `stored` under the stored parameters, compared in constant
/// time (`Output`'s equality), as argon2's own `PasswordVerifier` does.
fn verify_now(password: &Password, stored: &PasswordHash<'_>) -> Result<bool> {
    let unreadable = |e: password_hash::Error| {
        Error::Internal(format!("a stored password hash is unreadable: {e}"))
    };
    let (Some(salt), Some(expected)) = (&stored.salt, &stored.hash) else {
        return Ok(false);
    };
    let algorithm = Algorithm::try_from(stored.algorithm).map_err(unreadable)?;
    let version = match stored.version {
        Some(version) => Version::try_from(version).map_err(|e| unreadable(e.into()))?,
        None => Version::default(),
    };
    let params = Params::try_from(stored).map_err(unreadable)?;
    let argon2 = Argon2::new(algorithm, version, params);
    let mut salt_buffer = [0u8; 64];
    let salt_bytes = salt.decode_b64(&mut salt_buffer).map_err(unreadable)?;
    let mut out = vec![0u8; expected.len()];
    argon2_into(&argon2, password.expose().as_bytes(), salt_bytes, &mut out)?;
    Ok(Output::new(&out).map_err(unreadable)? == *expected)
}

fn dummy_digest() -> Result<&'static PasswordDigest> {
    static DUMMY: OnceLock<PasswordDigest> = OnceLock::new();
    if let Some(digest) = DUMMY.get() {
        return Ok(digest);
    }
    let digest = hash_now(&Password::presented(
        "tether-dummy-password-for-unknown-emails",
    ))?;
    Ok(DUMMY.get_or_init(|| digest))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn email() -> Email {
        Email::parse("alice.smith@acme.com").unwrap()
    }

    #[test]
    fn length_is_12_to_128_characters() {
        let short = Password::choose("Tr0ub4dor&3", None, &[]).unwrap_err();
        assert_eq!(short.code, "password_too_short");
        let long = "correct horse battery staple ".repeat(5);
        assert_eq!(
            Password::choose(&long, None, &[]).unwrap_err().code,
            "password_too_long"
        );
        assert!(Password::choose("quartz mitten orbit paddle", None, &[]).is_ok());
    }

    #[test]
    fn may_not_contain_the_email_local_part() {
        let error = Password::choose("xX-Alice.Smith-plum-42", Some(&email()), &[]).unwrap_err();
        assert_eq!(error.code, "password_contains_email");
    }

    #[test]
    fn weak_passwords_are_refused_with_the_estimators_feedback() {
        let error = Password::choose("password1234", None, &[]).unwrap_err();
        assert_eq!(error.code, "password_too_weak");
        assert!(error.message.len() > "This password is too easy to guess.".len());
        let error = Password::choose("aaaaaaaaaaaaaaaa", None, &[]).unwrap_err();
        assert_eq!(error.code, "password_too_weak");
    }

    #[test]
    fn debug_never_shows_the_password() {
        let password = Password::presented("hunter2-hunter2");
        assert!(!format!("{password:?}").contains("hunter2"));
    }

    #[tokio::test]
    async fn hashes_with_argon2id_at_the_required_parameters() {
        let hasher = PasswordHasher::new(1).unwrap();
        let password = Password::presented("quartz mitten orbit paddle");
        let digest = hasher.hash(&password).await.unwrap();
        let parsed = PasswordHash::new(digest.as_str()).unwrap();
        assert_eq!(parsed.algorithm.as_str(), "argon2id");
        assert_eq!(parsed.version, Some(0x13));
        assert_eq!(parsed.params.get_decimal("m"), Some(19_456));
        assert_eq!(parsed.params.get_decimal("t"), Some(2));
        assert_eq!(parsed.params.get_decimal("p"), Some(1));
        assert!(hasher.verify(&password, Some(&digest)).await.unwrap());
        let wrong = Password::presented("quartz mitten orbit puddle");
        assert!(!hasher.verify(&wrong, Some(&digest)).await.unwrap());
        assert!(!hasher.verify(&password, None).await.unwrap());
    }

    #[test]
    fn a_presented_password_keeps_one_character_more_than_the_policy_allows() {
        let long = Password::presented("é".repeat(1 << 20));
        assert_eq!(long.expose().chars().count(), MAX_CHARS + 1);
        assert_eq!(Password::presented("short").expose(), "short");
    }

    #[tokio::test]
    async fn a_full_queue_is_refused_at_once_and_recovers() {
        let hasher = PasswordHasher::with_queue_limit(1, 2).unwrap();
        let password = Password::presented("quartz mitten orbit paddle");
        let (first, second, third) = tokio::join!(
            hasher.hash(&password),
            hasher.hash(&password),
            hasher.hash(&password)
        );
        assert!(first.is_ok() && second.is_ok());
        assert!(matches!(
            third,
            Err(Error::RateLimited {
                retry_after_secs: 1
            })
        ));
        assert!(hasher.hash(&password).await.is_ok());
    }

    #[tokio::test]
    async fn a_hash_whose_caller_has_gone_is_skipped() {
        let hasher = PasswordHasher::new(1).unwrap();
        let password = Password::presented("quartz mitten orbit paddle");
        let running = {
            let (hasher, password) = (hasher.clone(), password.clone());
            tokio::spawn(async move { hasher.hash(&password).await })
        };
        // Queued behind the first, then abandoned, as a request is when its client hangs up.
        let abandoned = {
            let (hasher, password) = (hasher.clone(), password.clone());
            tokio::spawn(async move { hasher.hash(&password).await })
        };
        while hasher.waiting.load(Ordering::Acquire) < 2 {
            tokio::task::yield_now().await;
        }
        abandoned.abort();
        assert!(running.await.unwrap().is_ok());
        assert!(hasher.hash(&password).await.is_ok());
        assert_eq!(hasher.computed.load(Ordering::Relaxed), 2);
        // The last job lets go of its place just after it answers.
        let drained = tokio::time::timeout(std::time::Duration::from_secs(5), async {
            while hasher.waiting.load(Ordering::Acquire) > 0 {
                tokio::task::yield_now().await;
            }
        });
        assert!(
            drained.await.is_ok(),
            "every place in the queue is given back"
        );
    }

    #[tokio::test]
    async fn digests_agree_with_the_argon2_crates_own_hasher_and_verifier() {
        use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
        let hasher = PasswordHasher::new(1).unwrap();
        let password = Password::presented("quartz lantern meadow 7 orbit");

        let ours = hasher.hash(&password).await.unwrap();
        let parsed = PasswordHash::new(ours.as_str()).unwrap();
        assert!(argon2()
            .unwrap()
            .verify_password(b"quartz lantern meadow 7 orbit", &parsed)
            .is_ok());
        assert!(argon2()
            .unwrap()
            .verify_password(b"quartz lantern meadow 8 orbit", &parsed)
            .is_err());

        let salt = SaltString::generate(&mut OsRng);
        let theirs = argon2()
            .unwrap()
            .hash_password(b"quartz lantern meadow 7 orbit", &salt)
            .unwrap();
        let theirs = PasswordDigest(theirs.to_string());
        assert!(hasher.verify(&password, Some(&theirs)).await.unwrap());
        let wrong = Password::presented("quartz lantern meadow 8 orbit");
        assert!(!hasher.verify(&wrong, Some(&theirs)).await.unwrap());
    }
}
