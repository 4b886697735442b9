using System.Text;
using Courier.Tests.Infrastructure;
using Courier.Transport;
using Microsoft.Extensions.Logging;
using NetMQ;
using NetMQ.Sockets;

namespace Courier.Tests.Integration;

/// <summary>
/// A client whose peer stops reading fills its connection's queue; the requests past it are refused by the transport
/// and never leave. Each caller is still told (its attempt times out), and the client now says so in a Warning, where
/// before the refusal was silent.
/// </summary>
public sealed class ClientSendRefusalTests
{
    private const string Refused = "could not queue";

    [Fact]
    public async Task Requests_refused_at_the_connections_high_water_mark_are_logged_and_their_callers_time_out()
    {
        using var metrics = new MetricRecorder();
        using var peer = NonReadingPeer(out var endpoint);
        var logs = new RecordingLoggerFactory();
        await using var client = TestServer.Client(endpoint, o => o with
        {
            LoggerFactory = logs,
            Timeout = TimeSpan.FromSeconds(3),
            Retries = 0,
            Transport = TransportOptions.Default with { SendHighWatermark = 10 },
        });

        var first = client.RequestAsync("echo", "probe me");

        // The peer answers the protocol probe as a courier/2 server (no batches: each request is a message of its own),
        // twice (a client that offered more asks again, offering courier/3), then reads nothing more.
        for (var probe = 0; probe < 2; probe++)
        {
            var frames = new List<byte[]>();
            Assert.True(peer.TryReceiveMultipartBytes(TimeSpan.FromSeconds(30), ref frames!), "no probe from the client");
            Assert.Equal("mmi.courier", Encoding.UTF8.GetString(frames[3]));
            RawServer.AnswerProbe(peer, frames[0], "courier/2");
        }

        // 64 KiB requests, in rounds until the client says some were refused: the kernel's socket buffers take a few MiB
        // (as much as the host's tcp_wmem lets them grow), the connection's queue 10 messages, and the rest is refused.
        var body = new byte[64 * 1024];
        var requests = new List<Task<Client.CourierReply>> { first };
        await SendUntilRefusedAsync(client, logs, requests, body, perRound: 50, most: 2_000);

        var line = Assert.Single(logs.Entries, e => e.Message.Contains(Refused, StringComparison.Ordinal));
        Assert.Equal(LogLevel.Warning, line.Level);
        Assert.Contains(endpoint, line.Message, StringComparison.Ordinal);
        Assert.Contains("10 messages", line.Message, StringComparison.Ordinal);
        Assert.True(metrics.Of("courier.client.refused").Sum(m => m.Value) > 0, "courier.client.refused did not count them");

        // No caller is left waiting: each is told its request timed out (none was answered).
        foreach (var request in requests)
        {
            await Assert.ThrowsAsync<CourierTimeoutException>(() => request.WaitAsync(TimeSpan.FromSeconds(60)));
        }
    }

    /// <summary>
    /// A request the transport refused never left the process, so no handler can have run it: when its connection is
    /// then judged dead it is sent again or times out, never answered "outcome unknown". Before, being handed to the
    /// transport counted as "may have run" whether or not the transport took it, and every at-most-once request on the
    /// dead connection failed 520, those that never left with the one that did.
    /// </summary>
    [Fact]
    public async Task A_request_whose_send_was_refused_is_not_failed_as_outcome_unknown_when_its_connection_dies()
    {
        // Nothing listens: the connection's queue takes one message (its high-water mark) and refuses the rest.
        using var nowhere = PortReservation.Any();
        await using var client = TestServer.Client(nowhere.Endpoint, o => o with
        {
            Protocol = Client.ClientProtocol.Courier, // no protocol probe first: the requests go at once
            Timeout = TimeSpan.FromSeconds(1),
            Retries = 2,
            Transport = TransportOptions.Default with { SendHighWatermark = 1 },
        });

        // Sent in one turn of the client's loop, each alone (courier/2 has no batches): one queued, four refused.
        var requests = Enumerable.Range(0, 5).Select(i => client.RequestAsync("echo", $"at most once {i}")).ToArray();
        var outcomes = await FailuresAsync(requests, TimeSpan.FromSeconds(60));

        // The one queued may have reached a peer had one come: its outcome is unknown. The refused ones never left: sent
        // again on a fresh connection when the first is judged dead (the tick handles expired attempts before dead
        // connections, so that is at their third attempt's start), they run out of attempts before it too could be.
        Assert.All(outcomes, o => Assert.Contains(o, new[] { nameof(CourierOutcomeUnknownException), nameof(CourierTimeoutException) }));
        Assert.True(
            outcomes.Count(o => o == nameof(CourierOutcomeUnknownException)) == 1,
            $"one request left, and only it may have run: {string.Join(", ", outcomes)}");
    }

    /// <summary>
    /// The same with requests packed in batches (a courier/3 peer): a batch the transport refused never left, so its
    /// requests are not failed as outcome unknown when the connection is judged dead, while those of batches it took are.
    /// </summary>
    [Fact]
    public async Task Requests_of_a_refused_batch_are_not_failed_as_outcome_unknown_when_their_connection_dies()
    {
        using var peer = NonReadingPeer(out var endpoint);
        var logs = new RecordingLoggerFactory();
        await using var client = TestServer.Client(endpoint, o => o with
        {
            LoggerFactory = logs,
            Timeout = TimeSpan.FromSeconds(5),
            Retries = 2,
            Transport = TransportOptions.Default with { SendHighWatermark = 1 },
        });

        var requests = new List<Task<Client.CourierReply>> { client.RequestAsync("echo", "first") };
        var frames = new List<byte[]>();
        Assert.True(peer.TryReceiveMultipartBytes(TimeSpan.FromSeconds(30), ref frames!), "no probe from the client");
        RawServer.AnswerProbe(peer, frames[0], "courier/3"); // batches, and no incarnation: resends are not held

        // 4 KiB requests, packed a turn's worth to a batch, until the transport refuses one: the kernel's buffers take
        // what they can, the connection's queue one message. Then the peer answers nothing, not even the liveness probe.
        var body = new byte[4 * 1024];
        await SendUntilRefusedAsync(client, logs, requests, body, perRound: 100, most: 20_000);

        var outcomes = await FailuresAsync(requests, TimeSpan.FromSeconds(120));

        var summary = string.Join(", ", outcomes.GroupBy(o => o).Select(g => $"{g.Count()} {g.Key}"));
        Assert.All(outcomes, o => Assert.Contains(o, new[] { nameof(CourierOutcomeUnknownException), nameof(CourierTimeoutException) }));
        Assert.True(outcomes.Contains(nameof(CourierOutcomeUnknownException)), $"the requests the transport took were not judged: {summary}");
        Assert.True(outcomes.Contains(nameof(CourierTimeoutException)), $"the requests of a refused batch failed as outcome unknown: {summary}");
    }

    /// <summary>A peer that takes one message into its queue and 16 KiB into its socket, then reads nothing unless the test does.</summary>
    private static RouterSocket NonReadingPeer(out string endpoint) => RawServer.Bind(out endpoint, options =>
    {
        options.ReceiveHighWatermark = 1;
        options.ReceiveBuffer = 16 * 1024;
    });

    /// <summary>
    /// Requests of <paramref name="body"/>, <paramref name="perRound"/> a round (at most <paramref name="most"/> in all),
    /// until the client logs that its transport refused some.
    /// </summary>
    private static Task SendUntilRefusedAsync(
        Client.CourierClient client, RecordingLoggerFactory logs, List<Task<Client.CourierReply>> requests, byte[] body, int perRound, int most)
        => Poll.UntilAsync(
            () =>
            {
                for (var i = 0; i < perRound && requests.Count < most; i++)
                {
                    requests.Add(client.RequestAsync("echo", body));
                }

                return logs.Contains(Refused);
            },
            TimeSpan.FromSeconds(60),
            "the refused requests logged");

    /// <summary>How each of <paramref name="requests"/> failed (each must fail within <paramref name="within"/>): its exception's type name.</summary>
    private static async Task<List<string>> FailuresAsync(IEnumerable<Task<Client.CourierReply>> requests, TimeSpan within)
    {
        var outcomes = new List<string>();
        foreach (var request in requests)
        {
            var error = await Assert.ThrowsAnyAsync<CourierException>(() => request.WaitAsync(within));
            outcomes.Add(error.GetType().Name);
        }

        return outcomes;
    }
}
