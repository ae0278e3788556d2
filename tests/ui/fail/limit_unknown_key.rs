// Unknown and duplicate arguments, all reported at once.
use steadfast::limit;

#[limit(concurency = 4, wait = 1s, wait = 2s)]
async fn a() {}

fn main() {}
