using Courier.Tests.Infrastructure;

namespace Courier.Tests.Integration;

/// <summary>`--zmtp-heartbeat` reaches the sockets: a `courier server` PINGs a silent peer, or does not when it is 0.</summary>
public sealed class ZmtpHeartbeatTests
{
    // Under the default interval (5 s), so that a PING at the default would not pass; the wait ends at the first PING.
    private static readonly TimeSpan Listen = TimeSpan.FromSeconds(4);

    [Fact]
    public async Task Server_pings_an_idle_connection_at_the_heartbeat_interval()
    {
        var (process, endpoint) = await ChildProcess.StartServerAsync("--bind", "tcp://127.0.0.1:*", "--zmtp-heartbeat", "200ms");
        await using var _ = process;

        var received = await RawZmtp.SendAndListenAsync(Ports.Of(endpoint), RawZmtp.GreetingAndReady(), Listen, RawZmtp.ContainsPing);

        Assert.True(RawZmtp.ContainsPing(received), $"no PING in {received.Length} bytes within {Listen}");
    }

    [Fact]
    public async Task Server_with_heartbeats_off_sends_no_ping()
    {
        var (process, endpoint) = await ChildProcess.StartServerAsync("--bind", "tcp://127.0.0.1:*", "--zmtp-heartbeat", "0");
        await using var _ = process;

        // Longer than the default interval (5 s): an "off" that fell back to the default would PING within it.
        var received = await RawZmtp.SendAndListenAsync(Ports.Of(endpoint), RawZmtp.GreetingAndReady(), TimeSpan.FromSeconds(6));

        Assert.True(received.Length > 0, "the server should have answered the greeting");
        Assert.False(RawZmtp.ContainsPing(received), "heartbeats are off, yet a PING came");
        Assert.False(process.HasExited, process.Stderr);
    }
}
