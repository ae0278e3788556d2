// A trait method declaration has no body to wrap.
use steadfast::timeout;

trait Api {
    #[timeout(1s)]
    async fn call(&self) -> Result<(), std::io::Error>;
}

fn main() {}
