// The attempts of a hedged call run at the same time: they cannot share `&mut self`.
use steadfast::hedge;

struct Client {
    calls: u32,
}

impl Client {
    #[hedge(after = 50ms)]
    async fn get(&mut self, key: &str) -> std::io::Result<usize> {
        self.calls += 1;
        Ok(key.len())
    }
}

fn main() {}
