using Courier.Internal;
using Courier.Transport.Internal;

namespace Courier.Protocol.Internal;

/// <summary>
/// Replies to requests that came in batches (docs/protocol.md §6), packed per client until the loop's turn ends
/// (<see cref="Flush"/>). Used by the broker and the server alike. Loop thread only.
/// </summary>
internal sealed class ClientReplyBatches
{
    private const int SpareBatches = 64;
    private static readonly byte[] StatusOk = Mdp.StatusFrame(CourierStatus.Ok);
    private readonly Dictionary<byte[], BatchWriter> _batches = new(ByteArrayComparer.Instance);
    private readonly Stack<BatchWriter> _spare = new();
    private readonly byte[] _header = new byte[Mdp.CourierReplyHeaderLength];
    private readonly List<ReadOnlyMemory<byte>> _outgoing = [];

    /// <summary>
    /// Replies to request <paramref name="id"/> of the client at <paramref name="envelope"/>: into that client's batch
    /// when it can go there (a direct client, a success, one small frame), else at once in the <c>"CURC02"</c> form.
    /// </summary>
    public bool Reply(ITransportSocket socket, byte[][] envelope, ulong id, int status, ReadOnlySpan<ReadOnlyMemory<byte>> body)
    {
        if (envelope.Length != 1 || status != CourierStatus.Ok || !Batch.Fits(body.Length, body.Length == 1 ? body[0].Length : 0))
        {
            return SendOne(socket, envelope, id, status, body);
        }

        var client = envelope[0];
        if (!_batches.TryGetValue(client, out var batch))
        {
            batch = _spare.TryPop(out var spare) ? spare : new BatchWriter(Batch.ClientReply);
            _batches.Add(client, batch);
        }

        if (batch.TryAdd(id, StatusOk, body[0].Span))
        {
            return true;
        }

        var sent = Send(socket, client, batch);
        batch.TryAdd(id, StatusOk, body[0].Span);
        return sent;
    }

    /// <summary>One reply in the <c>"CURC02"</c> form: envelope, "", header, body.</summary>
    public bool SendOne(ITransportSocket socket, byte[][] envelope, ulong id, int status, ReadOnlySpan<ReadOnlyMemory<byte>> body)
    {
        var outgoing = _outgoing;
        outgoing.Clear();
        foreach (var frame in envelope)
        {
            outgoing.Add(frame);
        }

        outgoing.Add(Mdp.Empty);
        Mdp.WriteCourierReplyHeader(_header, id, status);
        outgoing.Add(_header);
        foreach (var frame in body)
        {
            outgoing.Add(frame);
        }

        var sent = socket.TrySend(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(outgoing));
        outgoing.Clear();
        return sent;
    }

    /// <summary>Sends every client's batch. False when a send was refused (the client's timeouts recover it).</summary>
    public bool Flush(ITransportSocket socket)
    {
        var sent = true;
        if (_batches.Count == 0)
        {
            return sent;
        }

        foreach (var (client, batch) in _batches)
        {
            if (batch.Count > 0)
            {
                sent &= Send(socket, client, batch);
            }

            if (_spare.Count < SpareBatches)
            {
                _spare.Push(batch);
            }
        }

        _batches.Clear();
        return sent;
    }

    private bool Send(ITransportSocket socket, byte[] client, BatchWriter batch)
    {
        bool sent;
        if (batch.Count == 1)
        {
            var record = batch.Single();
            sent = SendOne(socket, [client], record.Id, CourierStatus.Ok, [batch.Slice(record.BodyOffset, record.Body.Length)]);
        }
        else
        {
            sent = socket.TrySend([client, Mdp.Empty, batch.Frame]);
        }

        batch.Reset();
        return sent;
    }
}
