<?php
// One web request's worth of PHP session work, run as its own process the way
// php-fpm runs each request: php -d session.save_handler=... session.php ACTION SID [ARG]
// Prints one JSON object: the session id after the request, its data, and
// when the request asked for the session, got it (opened) and released it
// (closed), in microtime, for the locking test.
ini_set('session.use_cookies', '0');
ini_set('session.use_only_cookies', '0');
ini_set('session.cache_limiter', '');
$action = $argv[1];
$sid = $argv[2];
$arg = $argv[3] ?? '';
session_id($sid);
$begun = microtime(true);
if (!@session_start()) {
    $e = error_get_last();
    echo json_encode(['error' => 'session_start failed: ' . ($e['message'] ?? '')]);
    exit(1);
}
$opened = microtime(true);
switch ($action) {
    case 'write':
        $_SESSION['user'] = $arg;
        $_SESSION['n'] = ($_SESSION['n'] ?? 0) + 1;
        break;
    case 'read':
        break;
    case 'regen':
        if (!session_regenerate_id(true)) {
            echo json_encode(['error' => 'session_regenerate_id failed']);
            exit(1);
        }
        break;
    case 'destroy':
        if (!session_destroy()) {
            echo json_encode(['error' => 'session_destroy failed']);
            exit(1);
        }
        echo json_encode(['id' => $sid, 'data' => new stdClass(), 'begun' => $begun, 'opened' => $opened, 'closed' => microtime(true)]);
        exit(0);
    case 'hold':
        // Keep the (locked) session open, then write it.
        usleep((int)$arg * 1000);
        $_SESSION['held'] = ($_SESSION['held'] ?? 0) + 1;
        break;
    default:
        echo json_encode(['error' => "unknown action $action"]);
        exit(1);
}
$out = ['id' => session_id(), 'data' => empty($_SESSION) ? new stdClass() : $_SESSION];
if (!session_write_close()) {
    echo json_encode(['error' => 'session_write_close failed']);
    exit(1);
}
$out['begun'] = $begun;
$out['opened'] = $opened;
$out['closed'] = microtime(true);
echo json_encode($out);
