#![no_main]

libfuzzer_sys::fuzz_target!(|input: fairsync_fuzz::semaphore::Input| {
    fairsync_fuzz::semaphore::run_closable(&input);
});
