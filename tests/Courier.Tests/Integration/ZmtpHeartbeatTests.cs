using Courier.Tests.Infrastructure;

namespace Courier.Tests.Integration;

/// <summary>
/// `--zmtp-heartbeat` reaches the sockets: a `courier server` sends no PING of its own (its clients ping it, and it
/// answers; libzmq 4.3 cancels each heartbeat timer by walking all of its I/O thread's timers, so a listener pinging
/// 8,000 idle connections kept a core busy), whether heartbeats are on or off.
/// </summary>
public sealed class ZmtpHeartbeatTests
{
    [Fact]
    public async Task Server_with_heartbeats_on_sends_no_ping_of_its_own()
    {
        var (process, endpoint) = await ChildProcess.StartServerAsync("--bind", "tcp://127.0.0.1:*", "--zmtp-heartbeat", "200ms");
        await using var _ = process;

        // Ten intervals of silence: a listener that pinged would have done so.
        var silent = await RawZmtp.SendAndListenAsync(Ports.Of(endpoint), RawZmtp.GreetingAndReady(), TimeSpan.FromSeconds(2));
        Assert.True(silent.Length > 0, "the server should have answered the greeting");
        Assert.False(RawZmtp.ContainsPing(silent), "a listener sent a PING of its own");
        Assert.False(process.HasExited, process.Stderr);
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
