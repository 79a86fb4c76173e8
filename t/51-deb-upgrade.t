# Upgrading the installed package (API.md is unchanged by it; issue: "Upgrading an installed
# package keeps running chats and loses no message"): `apt-get install` of the package from
# `make deb`, an nginx that loads the module the way Debian enables it
# (/etc/nginx/modules-enabled/), a customer posting without pause while a newer version of
# the package is installed over it and nginx reloads; every post is answered 201, and the
# conversation holds each exactly once with gapless seq. The package is removed at the end.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";

use File::Path qw(make_path remove_tree);
use HTTP::Tiny;
use JSON::PP;
use POSIX qw(WNOHANG);
use Test::More;
use Time::HiRes qw(sleep time);
use ChatTest;

my $ROOT = repo_root();
my $PKG  = 'libnginx-mod-http-chat';

if (qx{dpkg-query -W -f='\${Status}' $PKG 2>/dev/null} =~ /install ok installed/) {
    BAIL_OUT("$PKG is installed on this machine already; this test installs and removes it");
}

# t/50-deb.t builds the package; built again only when this file runs alone
my ($deb) = glob("$ROOT/build/deb/${PKG}_*_amd64.deb");
unless ($deb) {
    my $built = qx{'$ROOT/scripts/deb.sh' 2>&1};
    ($deb) = $built =~ m{^(/\S+\.deb)$}m;
}
ok($deb && -f $deb, 'the package of make deb') or BAIL_OUT('no package');

my $dir = var_dir() . '/t/51-deb-upgrade';
remove_tree($dir);
make_path("$dir/tmp", "$dir/repack");
chmod 0755, var_dir(), var_dir() . '/t', $dir, "$dir/tmp";

# The newer version: the same build with a higher version number, put together the way
# dpkg-deb takes a package apart and back.
chomp(my $version = qx{dpkg-deb -f '$deb' Version});
my $newer = "$version.1";
system('dpkg-deb', '-R', $deb, "$dir/repack") == 0 or BAIL_OUT('dpkg-deb -R');
{
    local @ARGV = ("$dir/repack/DEBIAN/control");
    local $^I = '';
    while (<>) { s/^Version: .*/Version: $newer/; print }
}
system("dpkg-deb -b '$dir/repack' '$dir/newer.deb' >/dev/null") == 0 or BAIL_OUT('dpkg-deb -b');
system('dpkg', '--compare-versions', $newer, 'gt', $version) == 0 or BAIL_OUT("$newer is not newer");

sub apt_install {
    my ($file) = @_;
    my $out = qx{DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends '$file' 2>&1};
    return ($? == 0, $out);
}
my $installed = 0;
END { system("DEBIAN_FRONTEND=noninteractive apt-get purge -y $PKG >/dev/null 2>&1") if $installed }

my ($ok, $out) = apt_install($deb);
ok($ok, "apt-get install ./$PKG ($version)") or BAIL_OUT($out);
$installed = 1;
ok(-l '/etc/nginx/modules-enabled/50-mod-http-chat.conf', 'the package enables the module in modules-enabled');

# nginx as Debian's nginx.conf runs it: prefix /usr/share/nginx (modules/ -> /usr/lib/nginx/modules)
# and the modules-enabled snippet; everything else of this test's own.
my $port = free_port();
my $pg = sprintf('host=127.0.0.1 port=%d dbname=chat user=chat password=chat', $ENV{CHAT_PG_PORT} || 55432);
my $redis = '127.0.0.1:' . ($ENV{CHAT_REDIS_PORT} || 56379);
my $secret = var_dir() . '/chat.secret';
open my $cfh, '>', "$dir/nginx.conf" or die $!;
print $cfh <<"CONF";
include /etc/nginx/modules-enabled/50-mod-http-chat.conf;
worker_processes 2;
error_log $dir/error.log info;
pid $dir/nginx.pid;
events { worker_connections 256; }
http {
    access_log $dir/access.log;
    client_body_temp_path $dir/tmp/body;
    proxy_temp_path $dir/tmp/proxy;
    fastcgi_temp_path $dir/tmp/fastcgi;
    uwsgi_temp_path $dir/tmp/uwsgi;
    scgi_temp_path $dir/tmp/scgi;
    chat_zone      chat size=16m;
    chat_postgres  "$pg";
    chat_redis     $redis;
    chat_secret    $secret;
    chat_rate      1000r/s burst=1000;
    server {
        listen 127.0.0.1:$port;
        location /chat/api/ { chat_api; }
    }
}
CONF
close $cfh;
my @nginx = (nginx_bin(), '-p', '/usr/share/nginx/', '-e', "$dir/error.log", '-c', "$dir/nginx.conf");
system(@nginx) == 0 or BAIL_OUT('nginx did not start with the installed module');
END { system(@nginx, '-s', 'stop') if -f "$dir/nginx.pid" }

my $ua = HTTP::Tiny->new(timeout => 10);
my $base = "http://127.0.0.1:$port/chat/api/v1";
ok(wait_until(sub { $ua->get("$base/health/db")->{status} == 200 }, 10), 'the installed module serves the API');

my $s = decode_json($ua->post("$base/session", { headers => { 'content-type' => 'application/json' },
                                                 content => '{}' })->{content});
my %auth = (authorization => "Bearer $s->{token}", 'content-type' => 'application/json');

# a customer who keeps writing: one message after the other, until told to stop
pipe(my $rd, my $wr) or die $!;
my $pid = fork // die $!;
if (!$pid) {
    close $rd;
    my $n = 0;
    my $stop = time + 60;
    while (time < $stop && !-e "$dir/stop") {
        my $cid = sprintf('00000000-0000-4000-8000-%012d', ++$n);
        my $r = HTTP::Tiny->new(timeout => 10)->post("$base/messages",
            { headers => \%auth, content => encode_json({ text => "message $n", client_id => $cid }) });
        print {$wr} "$n $r->{status}\n";
        sleep 0.02;
    }
    close $wr;
    POSIX::_exit(0);
}
close $wr;

sleep 1;
($ok, $out) = apt_install("$dir/newer.deb");
ok($ok, "apt-get install of the newer package ($newer) over it") or diag($out);
like(qx{dpkg-query -W -f='\${Version}' $PKG}, qr/^\Q$newer\E$/, 'the newer version is installed');
my $old_master = do { open my $p, '<', "$dir/nginx.pid"; <$p> };
system(@nginx, '-s', 'reload') == 0 or fail('nginx -s reload');
ok(wait_until(sub {
    my @w = grep { /nginx: worker process/ } qx{ps -o args= --ppid $old_master};
    @w == 2 && qx{ps -o etimes= --ppid $old_master} !~ /^\s*(?:[3-9]\d|\d{3,})\s*$/m;
}, 30), 'nginx reloaded: new workers run the new module');
sleep 1;
open my $sfh, '>', "$dir/stop"; close $sfh;
my @posts = map { [split] } <$rd>;
waitpid($pid, 0);

cmp_ok(scalar @posts, '>=', 20, scalar(@posts) . ' posts while the package was upgraded and nginx reloaded');
is_deeply([grep { $_->[1] != 201 } @posts], [], 'every post answered 201');

my @all;
while (1) {
    my $after = @all ? $all[-1]{seq} : 0;
    my $page = decode_json($ua->get("$base/conversation?after=$after&limit=200", { headers => \%auth })->{content});
    last unless @{ $page->{messages} };
    push @all, @{ $page->{messages} };
}
my @mine = grep { $_->{sender_type} eq 'customer' } @all;
is_deeply([map { $_->{content} } @mine], [map { "message $_->[0]" } @posts],
          'the conversation holds every message once, in order');
is_deeply([map { $_->{seq} } @all], [1 .. scalar @all], 'seq is gapless');

open my $efh, '<', "$dir/error.log";
is_deeply([grep { /\[(?:alert|emerg|crit)\]/ } <$efh>], [], 'no alert, emerg or crit in error.log');

done_testing;
