// A non-`Clone` closure the body calls mutably: the hint is `&mut`, which works for
// an `FnMut` (every attempt reborrows it), where `&` would not.
use steadfast::retry;

#[retry(attempts = 3)]
async fn each(mut op: impl FnMut(u32) -> u32) -> std::io::Result<u32> {
    Ok(op(1))
}

#[retry(attempts = 3)]
async fn generic<Op>(op: Op) -> std::io::Result<u32>
where
    Op: FnMut(u32) -> u32,
{
    let mut op = op;
    Ok(op(1))
}

fn main() {}
