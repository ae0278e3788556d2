// `#[async_trait]` on the impl expands first and turns each method into a plain
// `fn` returning a boxed future, so a steadfast attribute on a method cannot wrap it.
use steadfast::timeout;

#[async_trait::async_trait]
trait Store {
    async fn load(&self, key: &str) -> std::io::Result<String>;
}

struct Memory;

#[async_trait::async_trait]
impl Store for Memory {
    #[timeout(1s)]
    async fn load(&self, key: &str) -> std::io::Result<String> {
        Ok(key.to_owned())
    }
}

fn main() {}
