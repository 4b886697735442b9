using Courier.Tests.Infrastructure;

namespace Courier.Tests.Integration;

/// <summary>
/// `--zmtp-heartbeat` reaches the sockets: a connecting `courier worker` pings at the interval, without a TTL, or not at
/// all when it is 0; a `courier server` sends no PING of its own and answers its clients' (libzmq 4.3 cancels each
/// heartbeat timer by walking all of its I/O thread's timers, so a listener pinging 8,000 idle connections kept a core
/// busy).
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
    public async Task Server_answers_a_clients_ping_with_a_pong_carrying_its_context()
    {
        // What keeps a connection through nginx alive now that only the connecting side pings.
        var (process, endpoint) = await ChildProcess.StartServerAsync("--bind", "tcp://127.0.0.1:*", "--zmtp-heartbeat", "200ms");
        await using var _ = process;

        // The PING once the handshake is done: sent in the same write as the greeting, libzmq closed the connection.
        using var connection = await RawZmtp.GreetedAsync(Ports.Of(endpoint), minor: 1);
        var received = await RawZmtp.SendAndListenAsync(connection, RawZmtp.Ping("ctx42"), TimeSpan.FromSeconds(10), RawZmtp.ContainsPong);

        Assert.True(RawZmtp.ContainsPong(received), $"no PONG in {received.Length} bytes");
        Assert.True(received.AsSpan().IndexOf("\u0004PONGctx42"u8) >= 0, "the PONG does not echo the PING's context");
    }

    [Theory]
    [InlineData("200ms", true)]
    [InlineData("0", false)]
    [InlineData(null, false)] // a worker's 7/MDP heartbeats keep its connection alive: no ZMTP ones unless asked
    public async Task A_connecting_worker_pings_at_the_heartbeat_interval_it_is_given_without_a_ttl_and_not_at_all_by_default(string? interval, bool pings)
    {
        using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        var port = ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
        await using var worker = interval is null
            ? ChildProcess.Start("worker", "--connect", $"tcp://127.0.0.1:{port}")
            : ChildProcess.Start("worker", "--connect", $"tcp://127.0.0.1:{port}", "--zmtp-heartbeat", interval);
        using var connection = await listener.AcceptTcpClientAsync().WaitAsync(TimeSpan.FromSeconds(30));

        // Longer than the clients' default interval (5 s): an "off" that fell back to it would PING within it.
        var received = await RawZmtp.SendAndListenAsync(
            connection, RawZmtp.GreetingAndReady(minor: 1, socketType: "ROUTER"), TimeSpan.FromSeconds(pings ? 10 : 6), RawZmtp.ContainsPing);

        Assert.True(received.Length > 0, "the worker should have greeted");
        Assert.Equal(pings, RawZmtp.ContainsPing(received));
        if (pings)
        {
            // No TTL: a listener keeps no timer per peer's PING (each costs a walk over its I/O thread's timers).
            Assert.Equal(0, RawZmtp.PingTtl(received));
        }
    }
}
