<?php
// Writes COUNT sessions in one process, through whatever session handler the
// -d settings choose, the way COUNT web requests would: for each id,
// session_id, session_start, set data, session_write_close. Ids are derived
// from PREFIX so the caller knows them. With ACTION read it reads them back
// instead and prints the ids whose data is there, changing nothing.
// php -d ... many_sessions.php write|read PREFIX COUNT
ini_set('session.use_cookies', '0');
ini_set('session.use_only_cookies', '0');
ini_set('session.cache_limiter', '');
[$_, $action, $prefix, $count] = $argv;
$found = [];
for ($i = 0; $i < (int)$count; $i++) {
    // 32 hex characters, a valid session id.
    $id = md5("$prefix$i");
    session_id($id);
    if (!@session_start()) {
        $e = error_get_last();
        fwrite(STDERR, "session_start $id failed: " . ($e['message'] ?? '') . "\n");
        exit(1);
    }
    if ($action === 'write') {
        $_SESSION['user'] = "user-$i";
    } elseif (($_SESSION['user'] ?? null) === "user-$i") {
        $found[] = $id;
    }
    // A read leaves the session as it is: session_abort neither writes it
    // nor touches it (php-memcached's touch over the binary protocol
    // upsets the reads that follow it in the same process).
    if ($action === 'read' ? !session_abort() : !session_write_close()) {
        fwrite(STDERR, "closing session $id failed\n");
        exit(1);
    }
    if ($action === 'write') {
        echo "$id\n";
    }
}
if ($action === 'read') {
    echo implode("\n", $found), "\n";
}
