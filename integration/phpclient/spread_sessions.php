<?php
// Writes N sessions through the configured session handler in one process,
// as N requests of a site would, and prints each session id on its own line.
// Usage: php -d session.save_handler=... spread_sessions.php N
ini_set('session.use_cookies', '0');
ini_set('session.use_strict_mode', '0');
ini_set('session.cache_limiter', '');
$n = (int)$argv[1];
for ($i = 0; $i < $n; $i++) {
    $id = session_create_id();
    session_id($id);
    if (!session_start()) {
        fwrite(STDERR, "session_start failed for $id\n");
        exit(1);
    }
    $_SESSION['user'] = "u$i";
    if (!session_write_close()) {
        fwrite(STDERR, "session_write_close failed for $id\n");
        exit(1);
    }
    echo $id, "\n";
}
