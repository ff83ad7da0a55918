#![no_main]

libfuzzer_sys::fuzz_target!(|input: fairsync_fuzz::rwlock::Input| {
    fairsync_fuzz::rwlock::run(&input);
});
