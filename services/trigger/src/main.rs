/// mimalloc rather than glibc's allocator: see BENCHMARKS.md (the gateway's profiles).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> Result<(), s4e_runtime::BoxError> {
    s4e_runtime::main::<s4e_trigger::Config>()
}
