using System.Buffers.Binary;
using System.Text;
using Courier.Client;
using Courier.Tests.Infrastructure;
using NetMQ;
using NetMQ.Sockets;

namespace Courier.Tests.Integration;

/// <summary>
/// A CANCEL names a request by client identity and id, so one for an attempt whose connection has closed goes by the
/// connection now open to the same endpoint (docs/protocol.md §8). When that connection is still negotiating, the CANCEL
/// waits for the answer instead of being dropped. Two servers played frame by frame on ROUTERs.
/// </summary>
public sealed class CancelAfterRedialTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(15);

    [Fact]
    public async Task A_cancel_for_an_attempt_on_a_closed_connection_reaches_its_endpoint_once_the_new_connection_negotiates()
    {
        using var a = RawServer.Bind(out var endpointA);
        using var b = RawServer.Bind(out var endpointB);
        await using var client = new CourierClient(CourierClientOptions.Default with
        {
            Endpoints = [endpointA, endpointB],
            // Long enough that the fresh connection's probe does not expire while the test answers it (its window is
            // one timeout: the other endpoint, never answering its liveness probe either, is judged dead about then).
            Timeout = TimeSpan.FromSeconds(3),
            Retries = 30,
        });
        using var cancellation = new CancellationTokenSource();
        var idempotent = CourierRequestOptions.Default with { Idempotent = true, Deadline = TimeSpan.FromMinutes(5) };
        var request = client.RequestAsync("wait", "first", idempotent, cancellation.Token);

        // Both connections negotiate courier/5; whichever gets the first attempt never answers anything again.
        var sockets = new[] { a, b };
        foreach (var socket in sockets)
        {
            var probe = Next(socket, RawServer.IsProtocolProbe, "a protocol probe")!;
            RawServer.AnswerProbe(socket, probe[0], "courier/5");
        }

        var (first, firstAttempt) = RawServer.NextOfAny(sockets, frames => IsRequest(frames, "first"), "the first attempt", Wait);
        var id = IdOf(firstAttempt);
        var second = ReferenceEquals(first, a) ? b : a;

        // Unanswered for its timeout, the request moves to the other endpoint, and the first connection, unanswered
        // again, is judged dead. New requests make the client open a fresh connection to the first endpoint.
        Assert.NotNull(Next(second, frames => IsRequest(frames, "first"), "the request moved to the other endpoint"));
        List<byte[]>? fresh = null;
        var others = new List<Task>();
        for (var i = 0; fresh is null && i < 40; i++)
        {
            // Never answered: they fail as the client is disposed, observed here.
            others.Add(client.RequestAsync("wait", "other", idempotent).ContinueWith(static t => t.Exception, TaskScheduler.Default));
            fresh = Next(first, frames => RawServer.IsProtocolProbe(frames) && !frames[0].AsSpan().SequenceEqual(firstAttempt[0]), "a fresh connection's probe", TimeSpan.FromSeconds(1), required: false);
        }

        Assert.NotNull(fresh);

        // The caller gives up while that connection negotiates: the holder of the moved attempt hears it at once.
        await cancellation.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => request);
        Assert.NotNull(Next(second, frames => IsCancel(frames, id), "the CANCEL at the attempt's holder"));

        // Once the fresh connection has negotiated, the first endpoint hears it too, by that connection.
        RawServer.AnswerProbe(first, fresh[0], "courier/5");
        Assert.NotNull(Next(first, frames => IsCancel(frames, id) && frames[0].AsSpan().SequenceEqual(fresh[0]), "the CANCEL at the first attempt's endpoint"));
    }

    private static bool IsRequest(List<byte[]> frames, string body) =>
        frames.Count >= 4 && frames[2].AsSpan().StartsWith("CURC05"u8) && frames[2][6] == 0x01 && Encoding.UTF8.GetString(frames[^1]) == body;

    private static bool IsCancel(List<byte[]> frames, ulong id) =>
        frames.Count == 3 && frames[2].Length == 31 && frames[2].AsSpan().StartsWith("CURC05"u8) && frames[2][6] == 0x03 && IdOf(frames) == id;

    private static ulong IdOf(List<byte[]> frames) => BinaryPrimitives.ReadUInt64BigEndian(frames[2].AsSpan(7, 8));

    private static List<byte[]>? Next(RouterSocket socket, Func<List<byte[]>, bool> matches, string what, TimeSpan? within = null, bool required = true)
        => RawServer.Next(socket, matches, what, within ?? Wait, required);
}
