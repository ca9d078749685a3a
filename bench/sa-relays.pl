#!/usr/bin/perl
# sa-relays.pl INDEX — print SpamAssassin's own view of each message's relays.
#
# For every "LABEL ./path" line of a TREC-style index, prints
#   path <TAB> first-untrusted-ip <TAB> _RELAYSUNTRUSTED_
# using SpamAssassin's Received parser with trusted_networks set to loopback
# and the private ranges (the same defaults Accord uses without --trusted).
# Only the message metadata is extracted; no rule runs, nothing leaves the machine.
use strict;
use warnings;
use File::Basename qw(dirname);
use Mail::SpamAssassin;
use Mail::SpamAssassin::PerMsgStatus;

my $index = shift or die "usage: sa-relays.pl INDEX\n";
my $base = dirname($index);
my $nets = join(' ', qw(127.0.0.0/8 10.0.0.0/8 172.16.0.0/12 192.168.0.0/16
  169.254.0.0/16 100.64.0.0/10 ::1 fc00::/7 fe80::/10));
my $sa = Mail::SpamAssassin->new({
  local_tests_only => 1,
  dont_copy_prefs  => 1,
  config_text      => "trusted_networks $nets\ninternal_networks $nets\n",
});
$sa->init(0);

open(my $ih, '<', $index) or die "open $index: $!\n";
while (my $line = <$ih>) {
  chomp $line;
  my ($label, $path) = split(/ /, $line, 2);
  next unless defined $path;
  open(my $fh, '<:raw', "$base/$path") or die "open $path: $!\n";
  local $/;
  my $text = <$fh>;
  close $fh;
  my $mail = $sa->parse($text);
  my $pms = Mail::SpamAssassin::PerMsgStatus->new($sa, $mail);
  $mail->extract_message_metadata($pms);
  my $str = $mail->{metadata}->{relays_untrusted_str} // "";
  my ($ip) = $str =~ /^\[ ip=(\S*) /;
  $ip //= '';
  print "$path\t$ip\t$str\n";
  $pms->finish();
  $mail->finish();
}
