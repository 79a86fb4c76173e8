# ChatTest: the t/ harness. Starts a real nginx (master + several workers) with the built
# chat module per test, against the Postgres and Redis that `make test` brought up, and fails
# the test file when error.log shows [alert], [emerg] or a worker that exited on a signal.
# The fixtures a file makes in that shared database (departments, agents, canned replies) go
# when it ends (see "Fixtures" below), so the dev stack does not list them afterwards.
package ChatTest;

use strict;
use warnings;

use Cwd qw(abs_path);
use Exporter qw(import);
use File::Basename qw(basename dirname);
use File::Path qw(make_path remove_tree);
use HTTP::Tiny;
use IO::Socket::INET;
use JSON::PP;
use POSIX qw(WNOHANG);
use Test::More;
use Time::HiRes qw(sleep time);

our @EXPORT = qw(start_nginx pg_stop pg_start redis_stop redis_start
                 free_port repo_root var_dir module_so nginx_bin nginx_test
                 wait_until);
our @EXPORT_OK = qw(bearer);

my $ROOT = abs_path(dirname(__FILE__) . '/../..');
my $PID  = $$;

sub repo_root { $ROOT }
sub nginx_bin { $ENV{CHAT_NGINX} || '/usr/sbin/nginx' }
sub module_so { $ENV{CHAT_MODULE_SO} || "$ROOT/build/nginx/objs/ngx_http_chat_module.so" }

# With CHAT_ASAN_PRELOAD (scripts/asan.sh: libasan.so's path, then libstdc++'s, so that ASan finds
# __cxa_throw when it starts and a C++ exception in the module is not a CHECK failure) nginx runs a
# module built with AddressSanitizer; each instance's reports go to <dir>/asan/ and fail the test file.
sub _nginx_env {
    my ($dir) = @_;
    my $lib = $ENV{CHAT_ASAN_PRELOAD} or return '';
    make_path("$dir/asan");
    chmod 0777, "$dir/asan";                       # workers run as nobody
    return "LD_PRELOAD='$lib' ASAN_OPTIONS='log_path=$dir/asan/report:detect_leaks=0"
         . ":abort_on_error=0:allocator_may_return_null=1' ";
}

# var/ may be a symlink to /var/tmp/nginx-chat-* (see scripts/env.sh)
sub var_dir {
    return $ENV{CHAT_VAR} if $ENV{CHAT_VAR};
    my $v = "$ROOT/var";
    return -l $v ? abs_path($v) : $v;
}

sub pg_port    { $ENV{CHAT_PG_PORT}    || 55432 }
sub redis_port { $ENV{CHAT_REDIS_PORT} || 56379 }

# a TCP port nobody listens on right now
sub free_port {
    my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
                                  Proto => 'tcp', Listen => 1, ReuseAddr => 1)
        or die "free_port: $!";
    my $port = $s->sockport;
    close $s;
    return $port;
}

# poll $cond every $step seconds until it returns true or $timeout passes
sub wait_until {
    my ($cond, $timeout, $step) = @_;
    $timeout //= 10;
    $step    //= 0.1;
    my $deadline = time + $timeout;
    while (1) {
        my $r = $cond->();
        return $r if $r;
        return undef if time > $deadline;
        sleep $step;
    }
}

# `nginx -t` on a config file; returns (ok, output)
sub nginx_test {
    my ($conf, $prefix) = @_;
    $prefix //= dirname($conf);
    # (a module built with ASan loads only with its runtime preloaded, as in start_nginx)
    my $env = _nginx_env($prefix);
    my $out = qx{$env@{[nginx_bin()]} -t -p '$prefix/' -c '$conf' -e '$prefix/error.log' 2>&1};
    return ($? == 0, $out);
}


# --- shared Postgres and Redis: stop/start for outage tests -------------------

my %stopped;

sub _script {
    my ($script, $cmd) = @_;
    local $ENV{CHAT_PG_PORT}    = pg_port();
    local $ENV{CHAT_REDIS_PORT} = redis_port();
    my $out = qx{'$ROOT/scripts/$script' $cmd 2>&1};
    die "scripts/$script $cmd failed: $out" if $?;
    return 1;
}

sub pg_stop     { $stopped{pg} = 1;    _script('db.sh', 'stop') }
sub pg_start    { _script('db.sh', 'start');    delete $stopped{pg}; 1 }
sub redis_stop  { $stopped{redis} = 1; _script('redis.sh', 'stop') }
sub redis_start { _script('redis.sh', 'start'); delete $stopped{redis}; 1 }


# --- SQL on the shared database (for isolating a test from global state) -------

# sql($statement): runs it through psql -At as the chat user; returns the output
# (rows as lines, columns separated by '|'), chomped. Dies if psql fails.
sub sql {
    my ($statement) = @_;
    local $ENV{PGPASSWORD} = 'chat';
    my @cmd = ('psql', '-X', '-q', '-At', '-v', 'ON_ERROR_STOP=1', '-h', '127.0.0.1',
               '-p', pg_port(), '-U', 'chat', '-d', 'chat', '-c', $statement);
    open my $fh, '-|', @cmd or die "sql: psql: $!";
    local $/;
    my $out = <$fh> // '';
    close $fh or die "sql: psql failed ($?) for: $statement\n";
    $out =~ s/\n+\z//;
    return $out;
}

# hold_locks($statement): a transaction of its own runs $statement (e.g. SELECT ... FOR UPDATE)
# and stays open, holding the locks it took, until the test ends it: $hold->release rolls it
# back (no commit to flush) and returns once its session is gone. Returns when the statement has run (its session is
# idle in that transaction, so the locks are held), or dies after 10 s. No timer ends the hold:
# a test holds the locks until it has seen what it waits for (posts waiting behind them), then
# releases them. A hold never released ends with the test's process (psql reads the end of its
# input and the transaction rolls back).
my $holds = 0;
sub hold_locks {
    my ($statement) = @_;
    my $app = sprintf('chat-test-hold-%d-%d', $$, ++$holds);
    local $ENV{PGPASSWORD} = 'chat';
    local $ENV{PGAPPNAME} = $app;
    open(my $fh, '|-', 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-o', '/dev/null', '-h', '127.0.0.1',
         '-p', pg_port(), '-U', 'chat', '-d', 'chat') or die "hold_locks: psql: $!";
    $fh->autoflush(1);
    print $fh "BEGIN;\n$statement;\n";
    # a fresh session per look (psql): pg_stat_activity is read once per transaction
    wait_until(sub {
        sql("SELECT count(*) FROM pg_stat_activity WHERE application_name = '$app' "
            . "AND state = 'idle in transaction' AND query NOT ILIKE 'begin%'") > 0
    }, 10, 0.02) or die "hold_locks: the statement did not run within 10 s: $statement\n";
    return bless { fh => $fh }, 'ChatTest::Hold';
}

package ChatTest::Hold {
    sub release {
        my ($self) = @_;
        my $fh = delete $self->{fh} or return;
        print $fh "ROLLBACK;\n";
        close $fh or die "hold_locks: the holding transaction did not end ($?)\n";   # waits for psql
    }
}


# --- Fixtures: what a file makes in the shared database goes when it ends ----------------
#
# The t/ files share the database of `make up` / `make test`, and the dev widget and
# dashboard list what is left in it (the department picker, the agents, the canned replies).
# So every department, agent and canned reply a file makes is recorded and removed by the END
# block below, after the file's last test: made through an instance's admin API (a 201 of
# POST .../admin/departments, .../admin/agents or .../admin/canned, seen by request()),
# through department() or with `chatctl agent add` through chatctl(). Departments and canned
# replies are deleted (a department's conversations fall back to the default queue, as when
# an admin deletes it); agents are deleted as DELETE /admin/agents does (soft: their names
# stay in history, their open chats go back to the queue).

my %made = (department => {}, canned => {}, agent => {}, username => {});

sub _made_by_answer {
    my ($method, $path, $res, $json) = @_;
    return unless $method eq 'POST' && $res->{status} == 201 && $json;
    my ($what) = $path =~ m{/admin/(departments|agents|canned)\z} or return;
    my $key = { departments => 'department', agents => 'agent', canned => 'canned' }->{$what};
    my $id = $json->{$key} && $json->{$key}{id};
    $made{$key}{$id} = 1 if defined $id && $id =~ /^[0-9a-f-]{36}\z/;
}

sub _quote { my ($s) = @_; $s =~ s/'/''/g; "'$s'" }

sub _remove_fixtures {
    my @sql;
    my $list = sub { join ', ', map { _quote($_) } sort keys %{ $made{ $_[0] } } };
    push @sql, 'DELETE FROM canned_replies WHERE id IN (' . $list->('canned') . ')' if %{ $made{canned} };
    push @sql, 'DELETE FROM departments WHERE id IN (' . $list->('department') . ')' if %{ $made{department} };
    if (%{ $made{agent} } || %{ $made{username} }) {
        my @who;
        push @who, 'id IN (' . $list->('agent') . ')' if %{ $made{agent} };
        push @who, 'lower(username) IN (' . join(', ', map { _quote(lc $_) } sort keys %{ $made{username} }) . ')'
            if %{ $made{username} };
        push @sql, 'SELECT count(chat_admin_agent_delete(id, NULL)) FROM agents WHERE deleted_at IS NULL AND ('
                 . join(' OR ', @who) . ')';
    }
    sql(join ";\n", @sql) if @sql;
}

# bearer($token): the Authorization header of an agent or customer token.
sub bearer { { Authorization => "Bearer $_[0]" } }

# department($name, strategy => 'least_loaded', members => [agents or ids], site => 'default',
# hours => JSON text | undef): a department made with SQL (removed when the file ends); its id.
sub department {
    my ($name, %o) = @_;
    my $hours = defined $o{hours} ? _quote($o{hours}) . '::jsonb' : 'NULL';
    my $id = sql('INSERT INTO departments (site, name, strategy, hours) VALUES ('
                 . _quote($o{site} // 'default') . ', ' . _quote($name) . ', '
                 . _quote($o{strategy} // 'least_loaded') . ", $hours) RETURNING id");
    $made{department}{$id} = 1;
    for my $m (@{ $o{members} // [] }) {
        my $agent = ref $m ? $m->{id} : $m;
        sql("INSERT INTO department_agents (department_id, agent_id) VALUES ('$id', " . _quote($agent) . ')');
    }
    return $id;
}

# quiet_state(unassign => 0): nobody online and no open conversation in the shared database,
# so that the queues a test looks at hold only its own conversations (unassign: the closed
# ones lose their agent too).
sub quiet_state {
    my (%o) = @_;
    sql("UPDATE agents SET presence = 'offline' WHERE presence <> 'offline';
         UPDATE conversations SET status = 'closed', closed_at = now()"
        . ($o{unassign} ? ', assigned_agent_id = NULL' : '') . " WHERE status <> 'closed'");
}

# chatctl($stdin, @args): runs build/core/chatctl against the shared database (the
# environment's CHAT_PG_CONNINFO); (exit code, stdout). An agent it adds is removed when
# the file ends.
sub chatctl {
    my ($in, @args) = @_;
    require IPC::Open3;
    require Symbol;
    my $pid = IPC::Open3::open3(my $w, my $r, my $e = Symbol::gensym(), "$ROOT/build/core/chatctl", @args);
    print $w $in; close $w;
    my $out = do { local $/; <$r> } // '';
    waitpid $pid, 0;
    my $rc = $? >> 8;
    $made{username}{ $args[2] } = 1 if @args >= 3 && $args[0] eq 'agent' && $args[1] eq 'add' && $rc == 0;
    return ($rc, $out);
}


# --- nginx instances -----------------------------------------------------------

my @instances;
my %names;

my $TEMPLATE = <<'CONF';
load_module %MODULE%;

user              nobody nogroup;
worker_processes  %WORKERS%;
error_log         %DIR%/error.log info;
pid               %DIR%/nginx.pid;
%MAIN%

events {
    worker_connections  1024;
}

http {
    access_log  %DIR%/access.log;

    client_body_temp_path  %DIR%/tmp/client_body;
    proxy_temp_path        %DIR%/tmp/proxy;
    fastcgi_temp_path      %DIR%/tmp/fastcgi;
    uwsgi_temp_path        %DIR%/tmp/uwsgi;
    scgi_temp_path         %DIR%/tmp/scgi;

    chat_zone      %ZONE_NAME% size=%ZONE_SIZE%;
%POSTGRES%
%REDIS%
    chat_secret    %SECRET%;
%SESSION_RATE%

%HTTP%

    server {
        listen  127.0.0.1:%PORT%;

        location /chat/api/       { chat_api; }
        location = /chat/status   { chat_status; allow 127.0.0.1; deny all; }
        location = /chat/metrics  { chat_status; allow 127.0.0.1; deny all; }

%SERVER%
    }
}
CONF

# start_nginx(workers => 3, http => '', server => '', no_redis => 0,
#             redis_batch => $ENV{CHAT_REDIS_BATCH} ('on'|'off': chat_redis's batch=;
#             CHAT_REDIS_BATCH=on runs a suite with batches),
#             no_postgres => 0, postgres => conninfo (default: the test database),
#             port => free, zone_size => '16m', name => ...,
#             main => '' (top-level directives, e.g. worker_shutdown_timeout),
#             session_rate => '1000r/s burst=4000' ('default': the module's own
#             chat_session_rate, so tests may open many sessions from 127.0.0.1))
sub start_nginx {
    my (%o) = @_;

    my $base = $o{name} // basename($0, '.t');
    my $n    = ++$names{$base};
    my $name = $n > 1 ? "$base-$n" : $base;
    my $dir  = var_dir() . "/t/$name";

    _stop_leftover($dir);
    remove_tree($dir);
    make_path("$dir/tmp");
    chmod 0755, var_dir(), var_dir() . '/t', $dir, "$dir/tmp";

    my $secret = var_dir() . '/chat.secret';
    die "no $secret: run the tests with `make test`\n" unless -s $secret;
    die "no module at " . module_so() . ": run `make build`\n" unless -f module_so();

    my $port = $o{port} // free_port();
    my %v = (
        MODULE    => module_so(),
        WORKERS   => $o{workers} // 3,
        DIR       => $dir,
        ZONE_NAME => 'chat',
        ZONE_SIZE => $o{zone_size} // '16m',
        POSTGRES  => $o{no_postgres} ? '' :
            sprintf('    chat_postgres  "%s" pool=%d;',
                    $o{postgres} // sprintf('host=127.0.0.1 port=%d dbname=chat user=chat password=chat', pg_port()),
                    $o{pool} // 2),
        REDIS     => $o{no_redis} ? '' :
            sprintf('    chat_redis     127.0.0.1:%d%s;', redis_port(),
                    ($o{redis_batch} // $ENV{CHAT_REDIS_BATCH}) ? ' batch=' . ($o{redis_batch} // $ENV{CHAT_REDIS_BATCH}) : ''),
        SECRET    => $secret,
        HTTP      => $o{http} // '',
        MAIN      => $o{main} // '',
        SESSION_RATE => ($o{session_rate} // '') eq 'default' ? '' :
            sprintf('    chat_session_rate  %s;', $o{session_rate} // '1000r/s burst=4000'),
        SERVER    => $o{server} // '',
        PORT      => $port,
    );

    (my $conf = $TEMPLATE) =~ s/%(\w+)%/exists $v{$1} ? $v{$1} : die "no $1"/ge;

    open my $fh, '>', "$dir/nginx.conf" or die "$dir/nginx.conf: $!";
    print $fh $conf;
    close $fh;

    my $self = bless {
        name => $name, dir => $dir, port => $port, workers => $v{WORKERS},
        http => HTTP::Tiny->new(timeout => 10, keep_alive => 0,
                                max_redirect => 0, agent => 'chat-test/1'),
    }, __PACKAGE__;

    my $out = qx{@{[_nginx_env($dir)]}@{[nginx_bin()]} -p '$dir/' -c '$dir/nginx.conf' -e '$dir/error.log' 2>&1};
    if ($?) {
        diag("nginx did not start:\n$out" . _tail("$dir/error.log"));
        die "start_nginx($name) failed\n";
    }
    push @instances, $self;

    my $ok = wait_until(sub { $self->get('/chat/api/v1/health')->{status} == 200 }, 10);
    unless ($ok) {
        diag("nginx $name: /chat/api/v1/health never answered 200" . _tail("$dir/error.log"));
        $self->stop;
        die "start_nginx($name): not healthy\n";
    }

    return $self;
}

# an nginx left running in this test's directory by an interrupted earlier run
sub _stop_leftover {
    my ($dir) = @_;
    open my $fh, '<', "$dir/nginx.pid" or return;
    my $pid = <$fh> // return;
    chomp $pid;
    return unless $pid =~ /^\d+$/ && open my $cf, '<', "/proc/$pid/cmdline";
    my $cmd = <$cf> // '';
    return unless $cmd =~ /^nginx: master process/ && index($cmd, $dir) >= 0;
    kill 'TERM', $pid;
    wait_until(sub { !kill 0, $pid }, 5, 0.05);
}

sub _tail {
    my ($file) = @_;
    open my $fh, '<', $file or return '';
    my @l = <$fh>;
    splice @l, 0, @l - 30 if @l > 30;
    return "\n--- $file:\n" . join('', @l);
}

sub name { $_[0]{name} }
sub dir  { $_[0]{dir} }
sub port { $_[0]{port} }
sub url  { my ($s, $path) = @_; "http://127.0.0.1:$s->{port}" . ($path // '/') }

# request(METHOD, PATH, json => REF | body => STR, headers => {...})
# -> {status, headers, json (decoded or undef), body, elapsed}
sub request {
    my ($self, $method, $path, %o) = @_;
    my %h = %{ $o{headers} // {} };
    my $body = $o{body};
    if (exists $o{json}) {
        $body = JSON::PP->new->utf8->canonical->encode($o{json});    # UTF-8 bytes
        $h{'content-type'} //= 'application/json';
    }
    my $t0 = time;
    my $res = $self->{http}->request($method, $self->url($path),
        { headers => \%h, (defined $body ? (content => $body) : ()) });
    my $json;
    if (($res->{headers}{'content-type'} // '') =~ m{^application/json}
        && length($res->{content} // ''))
    {
        $json = eval { JSON::PP->new->utf8->decode($res->{content}) };
    }
    _made_by_answer($method, $path, $res, $json);
    return { status => $res->{status}, headers => $res->{headers},
             body => $res->{content}, json => $json, elapsed => time - $t0,
             reason => $res->{reason} };
}

# --- the setup most files share: agents, customers ------------------------------------------

# $ng->agent_login($username, $password, $base): POST $base/agent/login (base: the default
# site's /chat/api/v1); the answer's JSON ({token, agent}). Dies unless 200.
sub agent_login {
    my ($self, $u, $p, $base) = @_;
    my $r = $self->post(($base // '/chat/api/v1') . '/agent/login', json => { username => $u, password => $p });
    die "login $u: $r->{status} $r->{body}" unless $r->{status} == 200;
    return $r->{json};
}

# $ng->new_agent($admin_headers, $tag, role => 'agent', max => 5, site => another site granted
# too, base => where they log in, display_name => "TNN $tag $run"): an agent made by that
# admin (POST /admin/agents; removed when the file ends) and logged in. The username is
# "tNN.$tag.$run" and the password "TNN-Pass-$tag-$run", NN the file's number and $run this
# run's (run_id). Dies on a failure. -> {id, tag, username, password, name, agent, token, auth}
sub new_agent {
    my ($self, $admin, $tag, %o) = @_;
    my ($nn) = basename($0) =~ /^(\d+)/;
    $nn //= 'x';
    my $run = run_id();
    my ($u, $p) = ("t$nn.$tag.$run", "T$nn-Pass-$tag-$run");
    my $name = $o{display_name} // "T$nn $tag $run";
    my $c = $self->post('/chat/api/v1/admin/agents', headers => $admin,
                        json => { username => $u, password => $p, display_name => $name,
                                  role => $o{role} // 'agent', max_active_chats => $o{max} // 5 });
    die "create $u: $c->{status} $c->{body}" unless $c->{status} == 201;
    my $id = $c->{json}{agent}{id};
    sql("UPDATE agents SET sites = ARRAY['default', " . _quote($o{site}) . "] WHERE id = '$id'") if $o{site};
    my $l = $self->agent_login($u, $p, $o{base});
    return { id => $id, tag => $tag, username => $u, password => $p, name => $name, agent => $l->{agent},
             token => $l->{token}, auth => bearer($l->{token}) };
}

# $ng->customer(base => '/chat/api/v1', token => a session token): POST /session (with that
# token, if any); dies unless 200. -> {token, auth, id (the conversation's), session (the answer)}
sub customer {
    my ($self, %o) = @_;
    my $s = $self->post(($o{base} // '/chat/api/v1') . '/session', json => {},
                        $o{token} ? (headers => bearer($o{token})) : ());
    die "session: $s->{status}" unless $s->{status} == 200;
    return { token => $s->{json}{token}, auth => bearer($s->{json}{token}), id => $s->{json}{conversation}{id},
             session => $s->{json} };
}

# $ng->escalate($customer, $department_id, $base): POST $base/escalate; dies unless 200; the
# answer's JSON.
sub escalate {
    my ($self, $c, $dept, $base) = @_;
    my $r = $self->post(($base // '/chat/api/v1') . '/escalate', headers => $c->{auth},
                        json => $dept ? { department_id => $dept } : {});
    die "escalate: $r->{status} $r->{body}" unless $r->{status} == 200;
    return $r->{json};
}

# $ng->presence($agent, $presence): POST /agent/presence for that agent (new_agent's); dies
# unless 200.
sub presence {
    my ($self, $ag, $p, $base) = @_;
    my $r = $self->post(($base // '/chat/api/v1') . '/agent/presence', headers => $ag->{auth},
                        json => { presence => $p });
    die "presence: $r->{status} $r->{body}" unless $r->{status} == 200;
    return $r->{json};
}

sub get    { my ($s, $p, %o) = @_; $s->request('GET',    $p, %o) }
sub head   { my ($s, $p, %o) = @_; $s->request('HEAD',   $p, %o) }
sub post   { my ($s, $p, %o) = @_; $s->request('POST',   $p, %o) }
sub put    { my ($s, $p, %o) = @_; $s->request('PUT',    $p, %o) }
sub patch  { my ($s, $p, %o) = @_; $s->request('PATCH',  $p, %o) }
sub delete { my ($s, $p, %o) = @_; $s->request('DELETE', $p, %o) }

# the decoded /chat/status of one worker
sub status { my ($s) = @_; $s->get('/chat/status')->{json} }

sub master_pid {
    my ($self) = @_;
    open my $fh, '<', "$self->{dir}/nginx.pid" or return undef;
    my $pid = <$fh>;
    return undef unless defined $pid;
    chomp $pid;
    return $pid =~ /^\d+$/ ? $pid : undef;
}

# pids of the master's live worker processes (not the ones shutting down)
sub worker_pids {
    my ($self) = @_;
    my $master = $self->master_pid or return ();
    my @w;
    for my $stat (glob '/proc/[0-9]*/stat') {
        open my $fh, '<', $stat or next;
        my $line = <$fh> // next;
        my ($pid, $state, $ppid) = $line =~ /^(\d+) \(.*\) (\S) (\d+)/ or next;
        next unless $ppid == $master && $state ne 'Z';
        open my $cf, '<', "/proc/$pid/cmdline" or next;
        my $cmd = <$cf> // '';
        push @w, $pid if $cmd =~ /worker process/ && $cmd !~ /shutting down/;
    }
    my @sorted = sort { $a <=> $b } @w;
    return @sorted;    # in scalar context: how many
}

# SIGHUP and wait until a new set of workers answers
sub reload {
    my ($self, $timeout) = @_;
    my %old = map { $_ => 1 } $self->worker_pids;
    kill 'HUP', $self->master_pid or die "reload: kill: $!";
    my $ok = wait_until(sub {
        my @w = $self->worker_pids;
        return 0 unless @w >= $self->{workers};
        return 0 if grep { $old{$_} } @w;
        return $self->get('/chat/api/v1/health')->{status} == 200;
    }, $timeout // 10, 0.05);
    die "reload of $self->{name}: new workers did not come up" . _tail("$self->{dir}/error.log") . "\n"
        unless $ok;
    return 1;
}

# lines of error.log that fail a test file
sub log_problems {
    my ($self) = @_;
    my @bad;
    if (open my $fh, '<', "$self->{dir}/error.log") {
        @bad = grep { /\[alert\]|\[emerg\]|exited on signal/ } <$fh>;
    }
    for my $report (glob "$self->{dir}/asan/report*") {
        open my $fh, '<', $report or next;
        push @bad, "AddressSanitizer ($report):\n", <$fh>;
    }
    return @bad;
}

sub stop {
    my ($self) = @_;
    return if $self->{stopped};
    $self->{stopped} = 1;

    my $pid = $self->master_pid;
    if ($pid && kill 0, $pid) {
        kill 'QUIT', $pid;
        unless (wait_until(sub { !kill 0, $pid }, 10, 0.05)) {
            kill 'TERM', $pid;
            wait_until(sub { !kill 0, $pid }, 5, 0.05) or kill 'KILL', $pid;
        }
    }

    my @bad = $self->log_problems;
    ok(!@bad, "error.log of $self->{name} has no [alert], [emerg] or crashed worker"
             . ($ENV{CHAT_ASAN_PRELOAD} ? ', and AddressSanitizer reported nothing' : ''))
        or diag(join '', @bad);
    return !@bad;
}

# fresh_schema($prefix): an empty schema of the shared database for this test file alone
# (migrations applied into it by the test); dropped when the file ends.
my @fresh_schemas;

# run_id(): this run of the file, to make names unique across runs (pid and time).
my $RUN = sprintf('%d%d', $$, time % 100000);
sub run_id { $RUN }
sub fresh_schema {
    my ($prefix) = @_;
    my $s = "${prefix}_${$}_" . scalar(@fresh_schemas);
    sql("DROP SCHEMA IF EXISTS $s CASCADE; CREATE SCHEMA $s");
    push @fresh_schemas, $s;
    return $s;
}

END {
    my $rc = $?;
    eval { sql("DROP SCHEMA IF EXISTS $_ CASCADE") for @fresh_schemas };
    for my $i (@instances) {
        $i->stop unless $i->{stopped};
    }
    # the shared servers stay running whatever happened to the test
    eval { pg_start() }    if $stopped{pg};
    eval { redis_start() } if $stopped{redis};
    # the fixtures go after the file's last test (not when a forked child ends)
    if ($$ == $PID) { eval { _remove_fixtures(); 1 } or diag("removing the fixtures failed: $@") }
    $? = $rc;
}

1;
