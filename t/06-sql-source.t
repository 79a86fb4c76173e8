# SQL is source, not history: `chatctl migrate` applies the schema migrations (sql/NNN_*.sql)
# once and re-applies a function file (sql/functions/*.sql) whenever it changed or the
# database no longer holds exactly its functions. A database migrated by the old layout
# (001..006 holding the functions) ends up identical to a fresh one; dropping every chat_*
# function and migrating brings each back as in sql/, and a running nginx serves again.
# Schema checks run in throwaway schemas; the last part drops the functions of the shared
# dev database under a running nginx (and puts them back whatever happens).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";

use File::Temp qw(tempdir);
use POSIX ();
use Test::More;
use ChatTest;

my $root    = repo_root();
my $chatctl = "$root/build/core/chatctl";
die "chatctl is not built: $chatctl (make core)\n" unless -x $chatctl;

my $base = 'host=127.0.0.1 port=' . ($ENV{CHAT_PG_PORT} || 55432)
         . ' dbname=chat user=chat password=chat';
my $tmp  = tempdir(CLEANUP => 1);
my $n    = 0;
sub uuid { sprintf('00000000-0000-4000-8000-%012d', ++$n + $$ * 1000) }

# The last commit whose 001..006 held every function (what databases migrated before
# sql/functions/ recorded).
my $legacy = 'f3bccf61e59d2dbf13aa5bf1077e20cc445ce635';

# (exit code, stdout and stderr together) of a command, no shell
my $seq = 0;
sub run_cmd {
    my @cmd = @_;
    my $out = "$tmp/$$." . ++$seq . '.out';
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        open STDIN,  '<', '/dev/null' or POSIX::_exit(126);
        open STDOUT, '>', $out        or POSIX::_exit(126);
        open STDERR, '>&', \*STDOUT   or POSIX::_exit(126);
        exec @cmd or POSIX::_exit(127);
    }
    waitpid $pid, 0;
    open my $h, '<', $out or die $!;
    local $/;
    return ($? >> 8, <$h> // '');
}

sub ci { my $s = shift; $s ? "$base options='-c search_path=$s'" : $base }

sub psql {
    my ($schema, $sql) = @_;
    my ($rc, $out) = run_cmd('psql', '-X', '-q', '-At', '-v', 'ON_ERROR_STOP=1', ci($schema), '-c', $sql);
    die "psql: $sql: $out" if $rc;
    chomp $out;
    return $out;
}

sub migrate {
    my ($schema, $dir) = @_;
    return run_cmd($chatctl, '--conninfo', ci($schema), 'migrate', '--dir', $dir // "$root/sql");
}

sub fresh_schema { ChatTest::fresh_schema('sqlsrc_t') }

# Everything a migrated schema is made of, with its name taken out so two schemas compare.
sub functions_of {
    my $s = shift;
    my $out = psql($s, q{SELECT string_agg(p.oid::regprocedure::text || E'\n' || pg_get_functiondef(p.oid),
                                           E'\n' ORDER BY p.oid::regprocedure::text)
                           FROM pg_proc p WHERE p.pronamespace = current_schema()::regnamespace});
    $out =~ s/\b\Q$s\E\.//g;
    return $out;
}
sub shape_of {
    my $s = shift;
    my $out = join "\n--\n",
        psql($s, q{SELECT string_agg(format('%s.%s #%s %s %s %s', table_name, column_name, ordinal_position,
                                            data_type, is_nullable, column_default), E'\n'
                                     ORDER BY table_name, ordinal_position)
                     FROM information_schema.columns WHERE table_schema = current_schema()}),
        psql($s, q{SELECT string_agg(indexdef, E'\n' ORDER BY indexname) FROM pg_indexes
                    WHERE schemaname = current_schema()}),
        psql($s, q{SELECT string_agg(format('%s %s %s', conrelid::regclass, conname, pg_get_constraintdef(oid)),
                                     E'\n' ORDER BY conrelid::regclass::text, conname)
                     FROM pg_constraint WHERE connamespace = current_schema()::regnamespace}),
        psql($s, q{SELECT string_agg(format('%s %s', c.relname, obj_description(c.oid, 'pg_class')),
                                     E'\n' ORDER BY c.relname)
                     FROM pg_class c WHERE c.relnamespace = current_schema()::regnamespace
                      AND obj_description(c.oid, 'pg_class') IS NOT NULL}),
        psql($s, q{SELECT string_agg(version, ',' ORDER BY version) FROM schema_migrations}),
        psql($s, q{SELECT string_agg(id || ' ' || version, ',') FROM chat_faq_version});
    $out =~ s/\b\Q$s\E\.//g;
    return $out;
}
sub chat_functions {
    my $s = shift;
    return psql($s, q{SELECT string_agg(p.oid::regprocedure::text, ', ' ORDER BY p.oid::regprocedure::text)
                        FROM pg_proc p
                       WHERE p.pronamespace = current_schema()::regnamespace AND p.proname LIKE 'chat\_%'});
}
sub drop_chat_functions {
    my $s = shift;
    psql($s, q{DO $$ DECLARE f regprocedure; BEGIN
                 FOR f IN SELECT p.oid FROM pg_proc p
                           WHERE p.pronamespace = current_schema()::regnamespace AND p.proname LIKE 'chat\_%'
                 LOOP EXECUTE 'DROP FUNCTION ' || f || ' CASCADE'; END LOOP; END $$});  # and their triggers
}

my @function_files = sort map { (m{/(functions/[^/]+\.sql)$})[0] } glob "$root/sql/functions/*.sql";
my $nfunction_files = scalar @function_files;
ok($nfunction_files >= 5, "sql/functions/ has function files (@function_files)");

# Every function the function files define, by name; each in exactly one file.
my (%defined_in, @twice);
for my $f (@function_files) {
    open my $h, '<', "$root/sql/$f" or die $!;
    local $/;
    my $text = <$h>;
    unlike($text, qr/^\s*(DROP|CREATE\s+(TABLE|INDEX|UNIQUE)|ALTER)\b/mi,
           "$f only creates or replaces functions");
    for my $name ($text =~ /^CREATE OR REPLACE FUNCTION (\w+)\(/mg) {
        push @twice, "$name ($defined_in{$name}, $f)" if $defined_in{$name};
        $defined_in{$name} = $f;
    }
}
is_deeply(\@twice, [], 'each function is defined in exactly one function file');
for my $f (glob "$root/sql/[0-9][0-9][0-9]_*.sql") {
    open my $h, '<', $f or die $!;
    local $/;
    unlike(<$h>, qr/CREATE\s+(OR\s+REPLACE\s+)?FUNCTION/i, "schema migration $f defines no function");
}

# --- a fresh schema: applied, then skipped ----------------------------------------

my $fresh = fresh_schema();
my $fresh_functions;
{
    my ($rc, $out) = migrate($fresh);
    is($rc, 0, 'migrate on an empty schema') or diag($out);
    is_deeply([$out =~ m{^(functions/\S+): new, applied \(\d+ functions\)$}mg], \@function_files,
              '... applies every function file, in name order') or diag($out);
    like($out, qr/^functions: $nfunction_files files applied, 0 unchanged$/m, '... and says so');
    $fresh_functions = functions_of($fresh);
    is(join(',', sort { $a cmp $b } psql($fresh, q{SELECT proname FROM pg_proc
                             WHERE pronamespace = current_schema()::regnamespace AND proname LIKE 'chat\_%'}) =~ /(\S+)/g),
       join(',', sort keys %defined_in), 'the database holds exactly the functions of sql/functions/');

    ($rc, $out) = migrate($fresh);
    is($rc, 0, 'migrate again') or diag($out);
    is_deeply([$out =~ m{^(functions/\S+): unchanged, skipped \(\d+ functions\)$}mg], \@function_files,
              '... skips every unchanged function file, saying so') or diag($out);
    like($out, qr/^functions: 0 files applied, $nfunction_files unchanged$/m, '... 0 applied');
    is(functions_of($fresh), $fresh_functions, '... and changes no function');
}

# --- dropped or altered functions come back exactly as in sql/ -------------------

{
    my $before = chat_functions($fresh);
    drop_chat_functions($fresh);
    is(chat_functions($fresh), '', 'every chat_* function dropped');
    my ($rc, $out) = migrate($fresh);
    is($rc, 0, 'migrate after the drop') or diag($out);
    is_deeply([$out =~ m{^(functions/\S+): functions differ from the database, applied}mg], \@function_files,
              '... re-applies every function file, saying why') or diag($out);
    is(chat_functions($fresh), $before, '... brings back every function');
    is(functions_of($fresh), $fresh_functions, '... exactly as defined in sql/ (pg_get_functiondef)');
    is(psql($fresh, q{SELECT count(*) FROM pg_trigger WHERE tgname = 'chat_conversations_gone'
                        AND tgrelid = 'conversations'::regclass}), 1,
       '... and the trigger that went with one of them (messages go with their conversations)');
    is(psql($fresh, q{SELECT string_agg(tgname, ' ' ORDER BY tgname) FROM pg_trigger
                       WHERE tgname IN ('chat_message_agent', 'chat_agent_messages')
                         AND tgrelid IN ('messages'::regclass, 'agents'::regclass)}), 'chat_agent_messages chat_message_agent',
       '... and the two that keep messages.sender_agent_id naming an agent (040_sender_agent_triggers)');

    # one function replaced by hand (a hot fix never written to sql/) is put back
    psql($fresh, q{CREATE OR REPLACE FUNCTION chat_ts(t timestamptz) RETURNS text
                   LANGUAGE sql IMMUTABLE AS $$ SELECT 'hand-made' $$});
    ($rc, $out) = migrate($fresh);
    is($rc, 0, 'migrate after a hand-made replacement') or diag($out);
    my @applied = $out =~ m{^(functions/\S+): .*, applied}mg;
    is(scalar @applied, 1, '... re-applies one file') or diag($out);
    is($applied[0], $defined_in{chat_ts}, '... the one defining it');
    is(functions_of($fresh), $fresh_functions, '... and its function is as in sql/ again');
}

# --- editing a function file re-applies it (and only it) ---------------------------

{
    my $dir = "$tmp/sql";
    mkdir $dir;
    mkdir "$dir/functions";
    system('cp', glob("$root/sql/[0-9][0-9][0-9]_*.sql"), $dir) == 0 or die;
    system('cp', glob("$root/sql/functions/*.sql"), "$dir/functions") == 0 or die;
    my $file = $defined_in{chat_faq_bump};
    open my $h, '<', "$dir/$file" or die $!;
    my $text = do { local $/; <$h> };
    close $h;
    (my $edited = $text) =~ s/RETURN v;/RETURN v + 0;  -- edited by t\/06/ or die "no RETURN v; in $file";
    open $h, '>', "$dir/$file" or die $!;
    print $h $edited;
    close $h;

    my ($rc, $out) = migrate($fresh, $dir);
    is($rc, 0, 'migrate with an edited function file') or diag($out);
    is_deeply([$out =~ m{^(functions/\S+): file changed, applied}mg], [$file], "... re-applies $file only")
        or diag($out);
    like($out, qr/^functions: 1 files applied, @{[$nfunction_files - 1]} unchanged$/m, '... the others skipped');
    like(psql($fresh, q{SELECT pg_get_functiondef('chat_faq_bump'::regproc)}), qr/RETURN v \+ 0;/,
         '... and the database holds the edit');

    ($rc, $out) = migrate($fresh, $dir);
    like($out, qr/^functions: 0 files applied, $nfunction_files unchanged$/m, 'the edited file, unchanged, is skipped');

    ($rc, $out) = migrate($fresh);
    is_deeply([$out =~ m{^(functions/\S+): file changed, applied}mg], [$file], 'going back re-applies it again');
    is(functions_of($fresh), $fresh_functions, '... as in sql/');

    # a broken function file is rolled back whole, and tried again next time
    open $h, '>', "$dir/$file" or die $!;
    print $h $edited, "\nCREATE OR REPLACE FUNCTION chat_broken() RETURNS int LANGUAGE sql AS \$\$ SELECT nope \$\$;\n";
    close $h;
    ($rc, $out) = migrate($fresh, $dir);
    is($rc, 2, 'a failing function file exits 2');
    like($out, qr/\Q$file\E: .*nope/s, "... with the file and Postgres' message") or diag($out);
    is(functions_of($fresh), $fresh_functions, '... and changes no function (rolled back)');

    # a new schema migration and the function files commit together: with a broken
    # function file the migration is not applied either (a running nginx never sees the
    # new schema under the old functions), and it is applied with them once fixed
    open $h, '>', "$dir/999_t06_atomic.sql" or die $!;
    print $h "CREATE TABLE t06_atomic (id int);\n";
    close $h;
    ($rc, $out) = migrate($fresh, $dir);
    is($rc, 2, 'a new migration with a failing function file exits 2') or diag($out);
    is(psql($fresh, q{SELECT to_regclass('t06_atomic') IS NULL}), 't', '... and the migration is rolled back too');
    is(psql($fresh, q{SELECT count(*) FROM schema_migrations WHERE version = '999_t06_atomic'}), 0,
       '... and not recorded');
    open $h, '>', "$dir/$file" or die $!;
    print $h $text;
    close $h;
    ($rc, $out) = migrate($fresh, $dir);
    is($rc, 0, 'fixed, migrate applies both') or diag($out);
    like($out, qr/^applying 999_t06_atomic$/m, '... the migration');
    is(psql($fresh, q{SELECT to_regclass('t06_atomic') IS NOT NULL}), 't', '... its table exists');
    is(functions_of($fresh), $fresh_functions, '... and the functions are as in sql/');
    psql($fresh, q{DROP TABLE t06_atomic; DELETE FROM schema_migrations WHERE version = '999_t06_atomic'});
}

# --- two migrates at once -----------------------------------------------------------

{
    my $s = fresh_schema();
    my @pids;
    for my $n (1 .. 2) {
        my $pid = fork // die;
        if (!$pid) {
            my ($rc, $out) = migrate($s);
            open my $h, '>', "$tmp/concurrent.$n" or POSIX::_exit(126);
            print $h $out;
            close $h;
            POSIX::_exit($rc);
        }
        push @pids, $pid;
    }
    my @rc = map { waitpid($_, 0); $? >> 8 } @pids;
    is_deeply(\@rc, [0, 0], 'two concurrent migrates succeed');
    my $both = join '', map { open my $h, '<', "$tmp/concurrent.$_" or die; local $/; <$h> } 1 .. 2;
    is_deeply([sort $both =~ m{^(functions/\S+): new, applied}mg], \@function_files,
              '... together they applied each function file exactly once') or diag($both);
    is(functions_of($s), $fresh_functions, '... and the functions are as in sql/');
}

# --- a database migrated by the old layout --------------------------------------------

SKIP: {
    my ($rc) = run_cmd('git', '-C', $root, 'cat-file', '-e', "$legacy^{commit}");
    skip "the old layout ($legacy) is not in this checkout's git history", 7 if $rc;
    my $old = fresh_schema();
    psql($old, 'CREATE TABLE schema_migrations (version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())');
    my @old_files = qw(001_init 002_conversations 003_agents 004_events 005_login_limits 006_ws_security);
    for my $v (@old_files) {
        my ($grc, $text) = run_cmd('git', '-C', $root, 'show', "$legacy:sql/$v.sql");
        die "git show $v: $text" if $grc;
        open my $h, '>', "$tmp/$v.sql" or die $!;
        print $h $text, "\nINSERT INTO schema_migrations (version) VALUES ('$v');\n";
        close $h;
        my ($prc, $out) = run_cmd('psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '--single-transaction',
                                  ci($old), '-f', "$tmp/$v.sql");
        die "old $v: $out" if $prc;
    }
    like(chat_functions($old), qr/chat_agent_by_id\(uuid\)/, 'the old layout made its functions (one since removed)');

    my $out;
    ($rc, $out) = migrate($old);
    is($rc, 0, 'an already-migrated database (001..006 recorded) migrates') or diag($out);
    my @new = grep { my $v = $_; !grep { $_ eq $v } @old_files }
              map { (m{/(\d{3}_[^/]*)\.sql$})[0] } glob "$root/sql/[0-9][0-9][0-9]_*.sql";
    is_deeply([$out =~ /^applying (\S+)$/mg], [sort @new], '... applying only the schema migrations after 006');
    is_deeply([$out =~ m{^(functions/\S+): new, applied}mg], \@function_files, '... and every function file');
    is(functions_of($old), $fresh_functions, '... its functions are those of a fresh database');
    is(shape_of($old), shape_of($fresh), '... and so are its tables, columns, indexes, constraints and records');
    ($rc, $out) = migrate($old);
    like($out, qr/^0 applied, .*\nfunctions: 0 files applied, $nfunction_files unchanged$/ms, '... after which nothing is left to do');
}

# --- the running service: drop every function, migrate, serve again -------------------

{
    my $ng = ChatTest::start_nginx(workers => 2);
    my $master = $ng->master_pid;
    my $r = $ng->post('/chat/api/v1/session', json => {});
    is($r->{status}, 200, 'nginx serves a session');

    my $restored = 0;
    END { migrate(undef) unless $restored }   # the dev database gets its functions back whatever happens

    drop_chat_functions(undef);
    $r = $ng->post('/chat/api/v1/session', json => {});
    isnt($r->{status}, 200, 'without the functions a new session fails') or diag(explain($r->{json}));

    my ($rc, $out) = migrate(undef);
    is($rc, 0, 'migrate puts the functions back') or diag($out);
    $restored = 1;
    like($out, qr/^functions: $nfunction_files files applied, 0 unchanged$/m, '... every function file');

    my @statuses = map { $ng->post('/chat/api/v1/session', json => {})->{status} } 1 .. 6;
    is_deeply(\@statuses, [(200) x 6], 'the same nginx, not restarted, serves new sessions again (any worker)');
    $r = $ng->post('/chat/api/v1/session', json => {});
    is($r->{status}, 200, '... one more') or diag(explain($r));
    my $auth = { Authorization => "Bearer $r->{json}{token}" };
    my $m = $ng->post('/chat/api/v1/messages', headers => $auth,
                      json => { text => 'How long does shipping take?', client_id => uuid() });
    is($m->{status}, 201, '... and a message in it') or diag(explain($m));
    is(scalar @{ $m->{json}{messages} // [] }, 2, '... answered by the bot');
    is($ng->master_pid, $master, '... by the master that ran before the drop');
    $ng->stop;
}

done_testing;
