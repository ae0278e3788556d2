// `on_retry` is a `Fn(&E, &steadfast::RetryInfo)`; anything else is reported at the
// hook, naming `on_retry` and that signature.
use steadfast::retry;

fn only_the_error(_: &std::io::Error) {}

#[retry(on_retry = only_the_error)]
async fn path() -> std::io::Result<()> {
    Ok(())
}

#[retry(on_retry = 42)]
async fn not_a_function() -> std::io::Result<()> {
    Ok(())
}

#[retry(on_retry = |e: &String, _info: &steadfast::RetryInfo| drop(e))]
async fn wrong_error_type() -> std::io::Result<()> {
    Ok(())
}

#[retry(on_retry = |e| drop(e))]
async fn one_argument() -> std::io::Result<()> {
    Ok(())
}

fn main() {}
