using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Text;
using Courier.Client;
using Courier.Client.Internal;
using Courier.Protocol.Internal;
using Courier.Tests.Infrastructure;
using Courier.Transport;
using NetMQ;
using NetMQ.Sockets;

namespace Courier.Tests.Integration;

/// <summary>
/// A client against servers played frame by frame on ROUTERs that answer what they should not: another endpoint's
/// requests, probes never sent, junk. A reply counts only from where its request went (an earlier attempt's connection
/// included); a probe's answer only once and only for a probe sent there; junk costs a few log lines; requests given up
/// are not kept for a peer that stays alive without answering.
/// </summary>
public sealed class HostileServerTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(15);
    private static readonly byte[] Incarnation = [1, 2, 3, 4, 5, 6, 7, 8];

    [Fact]
    public async Task A_reply_from_an_endpoint_the_request_never_went_to_does_not_answer_it()
    {
        var logs = new RecordingLoggerFactory();
        using var a = RawServer.Bind(out var endpointA);
        using var b = RawServer.Bind(out var endpointB);
        await using var client = new CourierClient(CourierClientOptions.Default with { Endpoints = [endpointA, endpointB], Timeout = TimeSpan.FromSeconds(30), LoggerFactory = logs });
        var request = client.RequestAsync("secret", "question");

        var sockets = new[] { a, b };
        var identities = new Dictionary<RouterSocket, byte[]>();
        foreach (var socket in sockets)
        {
            identities[socket] = RawServer.Next(socket, RawServer.IsProtocolProbe, "a protocol probe", Wait)![0];
            RawServer.AnswerProbe(socket, identities[socket], "courier/5");
        }

        var (holder, attempt) = RawServer.NextOfAny(sockets, frames => IsRequest(frames, "question"), "the request", Wait);
        var other = ReferenceEquals(holder, a) ? b : a;

        // A second request goes to the other endpoint, the less loaded one, once both have negotiated. That endpoint
        // answers the first with a forgery (ids count up from 1: it can name a request it never saw), then the second:
        // once the second is answered, the client has read the forgery before it.
        await Poll.UntilAsync(() => logs.Messages.Count(m => m.Contains("speaks Courier", StringComparison.Ordinal)) == 2, Wait, "both connections negotiated");
        var second = client.RequestAsync("secret", "another");
        var secondAttempt = RawServer.Next(other, frames => IsRequest(frames, "another"), "the second request", Wait)!;
        Reply(other, identities[other], IdOf(attempt), "forged");
        Reply(other, secondAttempt[0], IdOf(secondAttempt), "second");
        Assert.Equal("second", (await second.WaitAsync(Wait)).BodyText);
        Assert.False(request.IsCompleted, "the first request was answered by an endpoint it never went to");

        Reply(holder, attempt[0], IdOf(attempt), "genuine");
        Assert.Equal("genuine", (await request.WaitAsync(Wait)).BodyText);
    }

    [Fact]
    public async Task A_reply_to_a_first_run_after_a_refusal_of_its_resend_on_the_same_connection_is_still_the_answer()
    {
        // A peer before courier/5 runs a resend again, and a stopping one refuses it (503) before the first run answers.
        using var server = RawServer.Bind(out var endpoint);
        await using var client = new CourierClient(CourierClientOptions.Default with { Endpoints = [endpoint], Timeout = TimeSpan.FromSeconds(2), Retries = 3 });
        var request = client.RequestAsync("work", "slow");

        var probe = RawServer.Next(server, RawServer.IsProtocolProbe, "a protocol probe", Wait)!;
        RawServer.AnswerProbe(server, probe[0], "courier/3");
        var first = RawServer.Next(server, frames => IsCourier3Request(frames, "slow"), "the first attempt", Wait)!;
        var resend = RawServer.Next(server, frames => IsCourier3Request(frames, "slow"), "the resend, on the same connection", Wait)!;
        Assert.Equal(first[0], resend[0]);

        var id = BinaryPrimitives.ReadUInt64BigEndian(first[2].AsSpan(6, 8));
        var refusal = new byte[CourierFrame.ReplyLength];
        CourierFrame.WriteReply(refusal, id, 503);
        server.SendMultipartBytes(resend[0], [], refusal, "stopping"u8.ToArray());
        var answer = new byte[CourierFrame.ReplyLength];
        CourierFrame.WriteReply(answer, id, 200);
        server.SendMultipartBytes(first[0], [], answer, "done"u8.ToArray());

        Assert.Equal("done", (await request.WaitAsync(Wait)).BodyText);
    }

    [Fact]
    public async Task A_server_that_refuses_everything_is_connected_again_after_a_growing_backoff_not_once_per_refusal()
    {
        // Each 503 retires its connection (behind a proxy a fresh one may reach another server), and each fresh connection
        // costs the client log lines and the server a socket: the refusing peer must not set their pace.
        using var server = RawServer.Bind(out var endpoint);
        await using var client = new CourierClient(CourierClientOptions.Default with { Endpoints = [endpoint], Timeout = TimeSpan.FromSeconds(10), Retries = 0 });
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(4));
        var caller = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                try
                {
                    await client.RequestAsync("work", "x", stop.Token);
                }
                catch (Exception ex) when (ex is CourierException or OperationCanceledException)
                {
                }
            }
        });

        var connections = new HashSet<string>();
        var refused = 0;
        var frames = new List<byte[]>();
        while (!stop.IsCancellationRequested)
        {
            if (!server.TryReceiveMultipartBytes(TimeSpan.FromMilliseconds(50), ref frames))
            {
                continue;
            }

            connections.Add(Convert.ToHexString(frames[0]));
            if (RawServer.IsProtocolProbe(frames))
            {
                RawServer.AnswerProbe(server, frames[0], "courier/3");
            }
            else if (IsCourier3Request(frames, "x"))
            {
                var refusal = new byte[CourierFrame.ReplyLength];
                CourierFrame.WriteReply(refusal, BinaryPrimitives.ReadUInt64BigEndian(frames[2].AsSpan(6, 8)), 503);
                server.SendMultipartBytes(frames[0], [], refusal, "busy"u8.ToArray());
                refused++;
            }
        }

        await caller.WaitAsync(Wait);
        Assert.True(refused >= 4, $"{refused} refusals");
        // From 50 ms doubling to 1 s: about 0, 0.05, 0.15, 0.35, 0.75, 1.55, 2.55, 3.55 s. Without it, one per refusal.
        Assert.InRange(connections.Count, 2, 12);
    }

    [Fact]
    public async Task A_server_that_keeps_one_request_a_connection_and_refuses_the_rest_cannot_make_the_client_hold_a_connection_for_each()
    {
        // Each connection: the first request answered, the second kept unanswered, every later one refused (503: retired,
        // and a fresh one opened at once, since it answered). Each retired connection waited for its requests' timeout, a
        // descriptor and libzmq's buffers each: one per exchange the server chose. Past the bound a refusal retires
        // nothing: the connection of the moment stays, refused again and again.
        var logs = new RecordingLoggerFactory();
        using var server = RawServer.Bind(out var endpoint);
        var port = Ports.Of(endpoint);
        await using var client = new CourierClient(CourierClientOptions.Default with { Endpoints = [endpoint], Timeout = TimeSpan.FromSeconds(60), Retries = 0, LoggerFactory = logs });
        using var stop = new CancellationTokenSource();
        var requests = new List<Task>();
        var caller = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                requests.Add(client.RequestAsync("work", "x"));
                await Task.Delay(5);
            }
        });

        var seen = new Dictionary<string, int>();
        var cycles = 0;
        var most = 0;
        var frames = new List<byte[]>();
        var until = DateTime.UtcNow + TimeSpan.FromSeconds(90);
        while (cycles < 3 * ConnectionPool.MaxRetiring && DateTime.UtcNow < until)
        {
            if (!server.TryReceiveMultipartBytes(TimeSpan.FromMilliseconds(50), ref frames))
            {
                continue;
            }

            if (RawServer.IsProtocolProbe(frames))
            {
                RawServer.AnswerProbe(server, frames[0], "courier/3");
                continue;
            }

            if (!IsCourier3Request(frames, "x"))
            {
                continue;
            }

            var connection = Convert.ToHexString(frames[0]);
            var count = seen[connection] = seen.GetValueOrDefault(connection) + 1;
            var id = BinaryPrimitives.ReadUInt64BigEndian(frames[2].AsSpan(6, 8));
            var header = new byte[CourierFrame.ReplyLength];
            if (count != 2)
            {
                CourierFrame.WriteReply(header, id, count == 1 ? (ushort)200 : (ushort)503);
                server.SendMultipartBytes(frames[0], [], header, "x"u8.ToArray());
                cycles += count >= 3 ? 1 : 0;
                most = Math.Max(most, Ports.SettledConnectionsTo(port, ConnectionPool.MaxRetiring + 2, TimeSpan.FromSeconds(5)));
            }
        }

        await stop.CancelAsync();
        await caller.WaitAsync(Wait);
        // The bound's retiring connections, the current one, and one given up whose close libzmq has not finished; a count
        // above that is read again until closes in progress end (without the bound: one per refusal, over 96). First: an
        // excess, read again each time, would also use the time up before the refusals counted below.
        Assert.InRange(most, 1, ConnectionPool.MaxRetiring + 2);
        Assert.True(cycles >= 3 * ConnectionPool.MaxRetiring, $"{cycles} requests refused");
        Assert.InRange(seen.Count, ConnectionPool.MaxRetiring + 1, ConnectionPool.MaxRetiring + 2); // retired up to the bound, then kept
    }

    [Fact]
    public async Task Answers_to_probes_the_client_never_sent_change_nothing()
    {
        var logs = new RecordingLoggerFactory();
        using var server = RawServer.Bind(out var endpoint);
        // No attempt expires during the test: the client sends no liveness probe at all.
        await using var client = new CourierClient(CourierClientOptions.Default with { Endpoints = [endpoint], Timeout = TimeSpan.FromSeconds(60), LoggerFactory = logs });
        var request = client.RequestAsync("work", "held");

        var probe = RawServer.Next(server, RawServer.IsProtocolProbe, "a protocol probe", Wait)!;
        RawServer.AnswerProbe(server, probe[0], "courier/5", Incarnation);
        var attempt = RawServer.Next(server, frames => IsRequest(frames, "held"), "the request", Wait)!;

        // Answers naming probe ids (the top bit set) and, by turns, another incarnation and the first: each taken for a
        // real answer was a restart (the request moved, the connection retired, a line logged) and a scan of the table.
        for (var i = 0; i < 200; i++)
        {
            var header = new byte[CourierFrame.ReplyLength];
            CourierFrame.WriteReply(header, (1UL << 63) + (ulong)i, 200);
            byte[] incarnation = i % 2 == 0 ? [9, 9, 9, 9, 9, 9, 9, 9] : Incarnation;
            server.SendMultipartBytes(attempt[0], [], header, "courier/5"u8.ToArray(), incarnation);
        }

        // The real reply after them, on the connection the request went out on: it still holds the request.
        Reply(server, attempt[0], IdOf(attempt), "done");
        Assert.Equal("done", (await request.WaitAsync(Wait)).BodyText);
        Assert.DoesNotContain(logs.Messages, m => m.Contains("another incarnation", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Requests_given_up_are_not_kept_for_a_peer_that_answers_nothing_but_stays_alive()
    {
        using var server = RawServer.Bind(out var endpoint);
        // Two attempts: the first expires and the request waits, held, for the answer to a probe that never comes; the
        // second expires and the request fails. The peer's junk keeps its connection judged alive.
        await using var client = new CourierClient(CourierClientOptions.Default with { Endpoints = [endpoint], Timeout = TimeSpan.FromSeconds(2), Retries = 1 });
        using var stop = new CancellationTokenSource();
        byte[]? identity = null;
        var livenessProbes = 0;
        var peer = Task.Run(
            () =>
            {
                var frames = new List<byte[]>();
                while (!stop.IsCancellationRequested)
                {
                    if (server.TryReceiveMultipartBytes(TimeSpan.FromMilliseconds(50), ref frames))
                    {
                        if (RawServer.IsProtocolProbe(frames))
                        {
                            identity = frames[0];
                            RawServer.AnswerProbe(server, identity, "courier/5", Incarnation);
                        }
                        else if (frames.Count == 4 && frames[2].AsSpan().EndsWith("mmi.courier"u8))
                        {
                            Interlocked.Increment(ref livenessProbes); // never answered
                        }
                    }

                    if (Volatile.Read(ref identity) is { } known)
                    {
                        server.SendMultipartBytes(known, [], "junk"u8.ToArray());
                    }
                }
            },
            CancellationToken.None);

        var failed = await FailAtMostOnceRequestsAsync(client, count: 8);
        try
        {
            Assert.True(Volatile.Read(ref livenessProbes) > 0, "no liveness probe: the requests were never held for one");
            // What the client keeps of them once failed: nothing (before, each stayed held, with its body, until the peer
            // answered a probe, which it never does).
            await Poll.UntilAsync(
                () =>
                {
                    GC.Collect();
                    GC.WaitForPendingFinalizers();
                    return failed.All(request => !request.TryGetTarget(out _));
                },
                Wait,
                "the failed requests collected");
        }
        finally
        {
            await stop.CancelAsync();
            await peer;
        }
    }

    [Fact]
    public async Task A_flood_of_junk_from_a_server_is_logged_at_a_bounded_rate()
    {
        var logs = new RecordingLoggerFactory();
        // Room for all of it: a ROUTER at its high-water mark drops what it sends, and the reply came last (dropped once
        // on the managed transport, whose client reads the junk more slowly).
        using var server = RawServer.Bind(out var endpoint, o => o.SendHighWatermark = 10_000);
        var transport = TransportOptions.Default with { ViolationLogBurst = 5, ViolationLogInterval = TimeSpan.FromSeconds(1) };
        await using var client = new CourierClient(CourierClientOptions.Default with { Endpoints = [endpoint], Timeout = TimeSpan.FromSeconds(60), LoggerFactory = logs, Transport = transport });
        var request = client.RequestAsync("work", "held");

        var probe = RawServer.Next(server, RawServer.IsProtocolProbe, "a protocol probe", Wait)!;
        RawServer.AnswerProbe(server, probe[0], "courier/5");
        var attempt = RawServer.Next(server, frames => IsRequest(frames, "held"), "the request", Wait)!;
        for (var i = 0; i < 5_000; i++)
        {
            server.SendMultipartBytes(attempt[0], [], "junk"u8.ToArray());
        }

        Reply(server, attempt[0], IdOf(attempt), "done");
        Assert.Equal("done", (await request.WaitAsync(Wait)).BodyText);
        await Poll.UntilAsync(() => logs.Contains("not logged in the last"), Wait, "the summary of what was not logged");

        var lines = logs.Messages.Count(m => m.Contains("unexpected message", StringComparison.Ordinal));
        Assert.True(lines <= 10, $"{lines} lines for 5,000 junk messages:\n{string.Join('\n', logs.Messages.Take(20))}");
        Assert.Contains(logs.Messages, m => m.Contains("not logged in the last", StringComparison.Ordinal) && m.Contains("unexpected messages", StringComparison.Ordinal));
    }

    /// <summary>
    /// Makes <paramref name="count"/> at-most-once requests, waits for each to fail, and keeps only weak references to
    /// their tasks: a task stays reachable while the client keeps its request (the request completes it).
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static async Task<WeakReference<Task>[]> FailAtMostOnceRequestsAsync(CourierClient client, int count)
    {
        var requests = Enumerable.Range(0, count).Select(_ => (Task)client.RequestAsync("work", new byte[64 * 1024])).ToArray();
        foreach (var request in requests)
        {
            await Assert.ThrowsAnyAsync<CourierException>(() => request.WaitAsync(Wait));
        }

        return [.. requests.Select(request => new WeakReference<Task>(request))];
    }

    private static void Reply(RouterSocket socket, byte[] identity, ulong id, string body)
    {
        var header = new byte[CourierFrame.ReplyLength];
        CourierFrame.WriteReply(header, id, 200);
        socket.SendMultipartBytes(identity, [], header, Encoding.UTF8.GetBytes(body));
    }

    private static bool IsRequest(List<byte[]> frames, string body) =>
        frames.Count >= 4 && frames[2].AsSpan().StartsWith("CURC05"u8) && frames[2][6] == 0x01 && Encoding.UTF8.GetString(frames[^1]) == body;

    private static bool IsCourier3Request(List<byte[]> frames, string body) =>
        frames.Count == 4 && frames[2].AsSpan().StartsWith("CURC02"u8) && Encoding.UTF8.GetString(frames[3]) == body;

    private static ulong IdOf(List<byte[]> frames) => BinaryPrimitives.ReadUInt64BigEndian(frames[2].AsSpan(7, 8));
}
