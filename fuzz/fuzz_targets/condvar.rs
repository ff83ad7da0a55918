#![no_main]

libfuzzer_sys::fuzz_target!(|input: fairsync_fuzz::condvar::Input| {
    fairsync_fuzz::condvar::run(&input);
});
