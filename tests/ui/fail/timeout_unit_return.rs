// No return type at all: the error says what the attribute needs.
use steadfast::timeout;

#[timeout(1s)]
async fn fire_and_forget() {}

fn main() {}
