<?php
// A minimal PHP application behind nginx: ?login=NAME logs in, every request
// counts itself in the session. Replies with what the session holds and which
// app server answered.
session_start();
if (isset($_GET['login'])) {
    session_regenerate_id(true);
    $_SESSION = ['user' => $_GET['login'], 'n' => 0];
}
if (isset($_SESSION['user'])) {
    $_SESSION['n']++;
}
header('Content-Type: application/json');
echo json_encode(['user' => $_SESSION['user'] ?? null, 'n' => $_SESSION['n'] ?? 0, 'server' => getenv('APP_SERVER')]);
