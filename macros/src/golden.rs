//! Golden expansions: the code generated for a few stacks, printed one statement a
//! line, compared with the files in `macros/tests/expanded/`. A change to generated
//! code shows up there in review.
//!
//! After an intended change, re-bless with
//! `STEADFAST_BLESS=1 cargo test -p steadfast-macros golden` and read the diff.

use std::path::PathBuf;

use proc_macro2::{Delimiter, Spacing, TokenStream, TokenTree};

use crate::kind::Kind;
use crate::stack::attribute;

/// Expands `item` under the attribute `kind(args)` and compares the printed tokens
/// with `tests/expanded/{name}.txt` (or writes them there when blessing).
fn golden(name: &str, kind: Kind, args: &str, item: &str) {
    let (Ok(args), Ok(item)) = (args.parse::<TokenStream>(), item.parse::<TokenStream>()) else {
        panic!("the input of {name} does not lex");
    };
    let expanded = attribute(kind, args, item);
    assert!(!expanded.to_string().contains("compile_error"), "{name} expands to an error");
    let printed = Printer::print(expanded);
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("tests/expanded/{name}.txt"));
    if std::env::var_os("STEADFAST_BLESS").is_some() {
        std::fs::write(&path, &printed).expect("write the golden file");
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        printed == expected,
        "the expansion of {name} differs from {}; if the change is intended, re-bless with \
         STEADFAST_BLESS=1 cargo test -p steadfast-macros golden\n\n{printed}",
        path.display()
    );
}

#[test]
fn golden_full_stack() {
    golden(
        "full_stack",
        Kind::ErrorBoundary,
        "\"creating user\", level = warn",
        "#[retry(attempts = 3, delay = 100ms, max_elapsed = 10s)]
         #[timeout(800ms)]
         #[limit(concurrency = 8, rate = 100, per = 1s, wait = 250ms)]
         pub async fn create(name: String, mut tries: u32, db: &mut Db, id: &str) -> Result<User, Error> {
             #![allow(unused_mut)]
             db.insert(id, name, tries).await
         }",
    );
}

#[test]
fn golden_retry_evaluated_schedule() {
    golden(
        "retry_evaluated_schedule",
        Kind::Retry,
        "attempts = cfg.attempts, delay = Duration::from_millis(50), jitter = 0, when = Error::is_transient",
        "async fn fetch(&self, (a, b): (u8, u8), cfg: &Config) -> Result<u8, Error> { self.get(a, b).await }",
    );
}

#[test]
fn golden_catch_panic_and_shared_limiter() {
    golden(
        "catch_panic_and_shared_limiter",
        Kind::Limit,
        "using = POOL",
        "#[error_boundary(catch_panic)] async fn work() -> anyhow::Result<()> { Ok(()) }",
    );
}

#[test]
fn golden_retry_hook_schedule_attempt() {
    golden(
        "retry_hook_schedule_attempt",
        Kind::Retry,
        "schedule = [ms(10), ms(20)], on_retry = log_retry, attempt = n, level = debug, max_retry_after = 5s, jitter = full",
        "async fn fetch(id: &str) -> Result<u8, Error> { get(id, n).await }",
    );
}

#[test]
fn golden_blocking_boundary_over_retry() {
    golden(
        "blocking_boundary_over_retry",
        Kind::ErrorBoundary,
        "catch_panic",
        "#[retry(attempts = 2, backoff = fibonacci)] fn read(path: &Path, mut buf: Vec<u8>) -> io::Result<usize> { read_into(path, &mut buf) }",
    );
}

#[test]
fn golden_async_trait_method() {
    // As `#[async_trait]` (0.1.92) leaves a method `async fn get(&mut self, key: String)`.
    golden(
        "async_trait_method",
        Kind::Retry,
        "attempts = 2",
        "fn get<'life0, 'async_trait>(&'life0 mut self, key: String)
             -> ::core::pin::Pin<Box<dyn ::core::future::Future<Output = Result<String, Error>> + ::core::marker::Send + 'async_trait>>
         where 'life0: 'async_trait, Self: 'async_trait
         {
             Box::pin(async move {
                 if let ::core::option::Option::Some(__ret) = ::core::option::Option::None::<Result<String, Error>> {
                     #[allow(unreachable_code)]
                     return __ret;
                 }
                 let mut __self = self;
                 let key = key;
                 let __ret: Result<String, Error> = { __self.load(&key).await };
                 #[allow(unreachable_code)]
                 __ret
             })
         }",
    );
}

// #[hedge]
#[test]
fn golden_hedge() {
    golden(
        "hedge",
        Kind::Hedge,
        "after = p95, max = 3, when = Error::is_busy, budget = API",
        "#[limit(concurrency = 4)]
         async fn get(key: String, mut tries: u32, db: &Db) -> Result<Row, Error> {
             db.get(&key, tries).await
         }",
    );
}

// #[hedge]
#[test]
fn golden_hedge_evaluated_after_by_value_self() {
    golden(
        "hedge_evaluated_after_by_value_self",
        Kind::Timeout,
        "1s",
        "#[hedge(after = self.after)]
         async fn get(self, key: String) -> io::Result<Row> {
             self.db.get(&key).await
         }",
    );
}

#[test]
fn golden_keyed_spaced_limits() {
    golden(
        "keyed_spaced_limits",
        Kind::Limit,
        "concurrency = 2, rate = 10, per = 1s, burst = 1, key = request.tenant, wait = 250ms",
        "async fn handle(request: Request) -> Result<Response, Error> { request.run().await }",
    );
}

#[test]
fn golden_shared_keyed_limiter() {
    golden(
        "shared_keyed_limiter",
        Kind::Limit,
        "using = self.per_user, key = user_id(&request)",
        "async fn handle(&self, request: &Request) -> Response { self.run(request).await }",
    );
}

#[test]
fn golden_circuit_breaker_under_retry() {
    golden(
        "circuit_breaker_under_retry",
        Kind::Retry,
        "attempts = 3, delay = 100ms, budget = API_RETRIES",
        "#[circuit_breaker(failure_rate = 0.5, min_calls = 10, window = 30s, open_for = 15s, slow_call = 2s, when = ApiError::is_outage)]
         async fn charge(&self, cents: u64) -> Result<Receipt, ApiError> { self.api.charge(cents).await }",
    );
}

#[test]
fn golden_shared_circuit_breaker() {
    golden(
        "shared_circuit_breaker",
        Kind::CircuitBreaker,
        "using = self.breaker",
        "async fn get(&self) -> anyhow::Result<u8> { Ok(1) }",
    );
}

#[test]
fn golden_breaker_over_retry_over_breaker() {
    golden(
        "breaker_over_retry_over_breaker",
        Kind::CircuitBreaker,
        "using = GATEWAY",
        "#[retry(attempts = 2)] #[circuit_breaker(using = BACKEND)]
         async fn get() -> Result<u8, ApiError> { Ok(1) }",
    );
}

/// Prints tokens one statement (or match arm) a line, blocks indented by four
/// spaces, with the spacing rustfmt would mostly use. Joint punctuation (`::`, `=>`,
/// `&&&`) is printed as one operator.
struct Printer {
    out: String,
    depth: usize,
    /// The last token printed on this line (`None` at a line start).
    prev: Option<String>,
}

/// Where tokens are printed: the item itself, a `{ .. }` block (statements, arms,
/// fields), or inside `( .. )` / `[ .. ]`.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Level {
    Item,
    Block,
    Inline,
}

const KEYWORDS: &[&str] = &[
    "as", "async", "await", "break", "const", "dyn", "else", "for", "if", "impl", "in", "let",
    "loop", "match", "move", "mut", "ref", "return", "static", "use", "where", "while",
];

impl Printer {
    fn print(tokens: TokenStream) -> String {
        let mut printer = Printer { out: String::new(), depth: 0, prev: None };
        printer.tokens(tokens, Level::Item);
        let mut out = printer.out.trim_end().to_owned();
        out.push('\n');
        out
    }

    fn tokens(&mut self, tokens: TokenStream, level: Level) {
        let in_block = level != Level::Inline;
        let mut tokens = tokens.into_iter().peekable();
        let mut op = String::new();
        // Inside `<..>`, a `,` separates generic arguments, not arms or fields.
        let mut angles = 0_usize;
        while let Some(tt) = tokens.next() {
            if let TokenTree::Punct(p) = &tt {
                op.push(p.as_char());
                if p.spacing() == Spacing::Alone {
                    self.operator(&std::mem::take(&mut op), level, &mut angles);
                }
                continue;
            }
            if !op.is_empty() {
                // A joint punctuation before a word: a lifetime's `'`.
                self.word(&std::mem::take(&mut op));
            }
            match tt {
                TokenTree::Group(g) if g.delimiter() == Delimiter::Brace => {
                    self.block(g.stream());
                    let continues = match tokens.peek() {
                        Some(TokenTree::Punct(p)) => matches!(p.as_char(), ',' | ';' | '.' | '?'),
                        Some(TokenTree::Ident(i)) => i == "else",
                        _ => false,
                    };
                    if in_block && !continues {
                        self.newline();
                    }
                }
                TokenTree::Group(g) => self.group(&g, in_block),
                other => self.word(&other.to_string()),
            }
        }
        if !op.is_empty() {
            self.word(&op);
        }
    }

    /// A whole operator (`;`, `::`, `=>`); a statement or an arm ends at `;` or `,`.
    fn operator(&mut self, op: &str, level: Level, angles: &mut usize) {
        match op {
            "<" => *angles += 1,
            ">" => *angles = angles.saturating_sub(1),
            _ => {}
        }
        self.word(op);
        let breaks = match op {
            ";" => level != Level::Inline,
            "," => level == Level::Block && *angles == 0,
            _ => false,
        };
        if breaks {
            self.newline();
        }
    }

    /// `( .. )` or `[ .. ]`, on one line; an attribute ends its line.
    fn group(&mut self, g: &proc_macro2::Group, in_block: bool) {
        let attribute = matches!(self.prev.as_deref(), Some("#" | "!"));
        let (open, close) = match g.delimiter() {
            Delimiter::Parenthesis => ("(", ")"),
            Delimiter::Bracket => ("[", "]"),
            _ => ("", ""),
        };
        self.word(open);
        self.tokens(g.stream(), Level::Inline);
        self.word(close);
        if in_block && attribute && g.delimiter() == Delimiter::Bracket {
            self.newline();
        }
    }

    fn block(&mut self, tokens: TokenStream) {
        if tokens.is_empty() {
            self.word("{");
            self.prev = Some("(".into());
            self.word("}");
            return;
        }
        self.word("{");
        self.depth += 1;
        self.newline();
        self.tokens(tokens, Level::Block);
        self.depth -= 1;
        self.newline();
        self.word("}");
    }

    fn word(&mut self, word: &str) {
        if let Some(prev) = &self.prev {
            if space_between(prev, word) {
                self.out.push(' ');
            }
        }
        self.out.push_str(word);
        self.prev = Some(word.to_owned());
    }

    fn newline(&mut self) {
        if self.prev.is_some() {
            self.out.push('\n');
        } else {
            // Already at a line start: only the indentation changes.
            self.out.truncate(self.out.trim_end_matches(' ').len());
        }
        self.out.push_str(&"    ".repeat(self.depth));
        self.prev = None;
    }
}

fn space_between(prev: &str, next: &str) -> bool {
    let word = |s: &str| s.starts_with(|c: char| c.is_alphanumeric() || c == '_' || c == '"');
    let name = |s: &str| word(s) && !KEYWORDS.contains(&s);
    if matches!(prev, "(" | "[" | "::" | "." | "&" | "&&" | "&&&" | "*" | "#" | "'" | "<" | "!") {
        return false;
    }
    match next {
        ")" | "]" | "," | ";" | "." | "?" | ":" | ">" => false,
        "::" | "(" | "[" | "<" | "!" => !(name(prev) || prev == ">" || prev == ")"),
        _ => true,
    }
}
