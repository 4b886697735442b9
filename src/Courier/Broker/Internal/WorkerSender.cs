using System.Runtime.InteropServices;
using Courier.Protocol.Internal;
using Courier.Transport.Internal;

namespace Courier.Broker.Internal;

/// <summary>
/// What the broker sends its workers: requests one by one, or packed per worker until the turn ends, and commands.
/// Owns the buffers those are written in. Loop thread only.
/// </summary>
internal sealed class WorkerSender(ITransportSocket socket)
{
    private readonly List<ReadOnlyMemory<byte>> _outgoing = [];
    private readonly List<WorkerPeer> _workersToFlush = [];
    private readonly List<(WorkerPeer Peer, ulong Token)> _cancelsAfterFlush = [];

    // Headers are written here rather than allocated per message: both transports copy a frame when it is sent.
    private readonly byte[] _requestHeader = new byte[CourierWorkerFrame5.MaxRequestLength];
    private readonly byte[] _budget = new byte[4];
    private LoneHeader? _loneHeader;

    /// <summary>
    /// The requests a refused send never handed the transport (each with the token it had then): ZeroMQ takes a message
    /// whole or not at all, so these certainly did not reach the worker. Whoever acts on the refusal takes them
    /// (<see cref="WorkerBacklog.RequeueUnsent"/>).
    /// </summary>
    public List<(BrokerRequest Request, ulong Token)> Unsent { get; } = [];

    /// <summary>Sends (or packs, for a worker that takes batches) <paramref name="request"/> to <paramref name="worker"/>. False when refused.</summary>
    public bool Send(BrokerWorker worker, BrokerRequest request)
    {
        var peer = worker.Peer;
        var inbound = request.Inbound;

        // Under courier/4 a REQUEST names its service (the batch record's tag, or after the token in the header): the
        // worker may serve several on this connection. Before it, the worker knows its one service.
        var service = peer.MultiService ? worker.Service.NameFrame : [];
        // Only what came in a client's batch is packed for the worker: a lone request goes alone.
        if (peer.Batches && inbound.Route.Framing == ClientFraming.CourierBatch && Batch.Fits(1, inbound.Body(0).Length, peer.LargeBatches))
        {
            // Packed with whatever else this worker gets before the turn ends (Flush).
            var batch = peer.Pending ??= new BatchWriter(peer.Delivery ? Batch.WorkerRequest5 : Batch.WorkerRequest, Batch.FrameBound(peer.LargeBatches));
            if (batch.Count == 0)
            {
                _workersToFlush.Add(peer);
            }

            // Under courier/5 the record's meta is the remaining budget and the headers, passed on as they came (but for
            // the traceparent of the broker's span, while there is one).
            System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(_budget, request.BudgetMs);
            var headers = peer.Delivery ? request.WorkerHeaders : default;
            if (batch.TryAdd(request.Token, service, _budget, headers, inbound.Body(0).Span))
            {
                peer.PendingRequests.Add((request, request.Token));
                return true;
            }

            // Full: send it now and start the next.
            if (!SendBatch(peer, batch))
            {
                Unsent.Add((request, request.Token));
                return false;
            }

            batch.TryAdd(request.Token, service, _budget, headers, inbound.Body(0).Span);
            peer.PendingRequests.Add((request, request.Token));
            return true;
        }

        var frames = _outgoing;
        frames.Clear();
        frames.Add(peer.Identity);
        if (peer.Delivery)
        {
            frames.Add(_requestHeader.AsMemory(0, CourierWorkerFrame5.WriteRequest(_requestHeader, request.Token, request.BudgetMs, service, request.WorkerHeaders)));
        }
        else if (peer.Courier)
        {
            frames.Add(_requestHeader.AsMemory(0, CourierWorkerFrame.WriteRequest(_requestHeader, request.Token, service)));
        }
        else
        {
            frames.Add(Mdp.Empty);
            frames.Add(Mdp.WorkerHeader);
            frames.Add(MdpWorker.RequestFrame);
            frames.Add(request.TokenFrame);
            frames.Add(Mdp.Empty);
        }

        inbound.AddBodyTo(frames);
        var sent = socket.TrySend(CollectionsMarshal.AsSpan(frames));
        frames.Clear();
        if (sent)
        {
            peer.BehindSince = 0;
        }
        else
        {
            Unsent.Add((request, request.Token));
        }

        return sent;
    }

    /// <summary>
    /// Sends the requests packed for workers this turn. Runs at the end of every turn of the loop, so a batch holds only
    /// what was ready at once and never waits for more. A refused batch goes to <paramref name="refused"/>.
    /// </summary>
    public void Flush(Action<WorkerPeer> refused)
    {
        // What a refusal puts back may be packed for other workers meanwhile: repeat until none is left.
        while (_workersToFlush.Count > 0)
        {
            var peer = _workersToFlush[^1];
            _workersToFlush.RemoveAt(_workersToFlush.Count - 1);
            if (peer.Pending is { Count: > 0 } batch && !SendBatch(peer, batch))
            {
                refused(peer);
            }
        }

        foreach (var (peer, token) in _cancelsAfterFlush)
        {
            if (!peer.Removed)
            {
                socket.TrySend([peer.Identity, CourierWorkerFrame5.CancelFrame(token)]);
            }
        }

        _cancelsAfterFlush.Clear();
    }

    /// <summary>
    /// Sends <paramref name="batch"/> to <paramref name="peer"/> (one request alone in the ordinary form) and empties it;
    /// refused, its requests are <see cref="Unsent"/>.
    /// </summary>
    private bool SendBatch(WorkerPeer peer, BatchWriter batch)
    {
        var sent = batch.SendTo(socket, [peer.Identity], _loneHeader ??= LoneRequestHeader);
        if (sent)
        {
            peer.BehindSince = 0;
        }
        else
        {
            Unsent.AddRange(peer.PendingRequests);
        }

        peer.PendingRequests.Clear();
        return sent;
    }

    /// <summary>What was packed for <paramref name="peer"/> and not sent (it is being removed) joins <see cref="Unsent"/>.</summary>
    public void DropPending(WorkerPeer peer)
    {
        peer.Pending?.Reset();
        Unsent.AddRange(peer.PendingRequests);
        peer.PendingRequests.Clear();
    }

    private ReadOnlyMemory<byte> LoneRequestHeader(BatchRecord record) => record.Meta.Length >= 4
        ? _requestHeader.AsMemory(0, CourierWorkerFrame5.WriteRequest(
            _requestHeader, record.Id, System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(record.Meta), record.Tag, record.Meta[4..]))
        : _requestHeader.AsMemory(0, CourierWorkerFrame.WriteRequest(_requestHeader, record.Id, record.Tag));

    /// <summary>Tells a courier/5 worker that the caller of request <paramref name="token"/> gave up: its handler's token fires.</summary>
    /// <remarks>
    /// While requests are packed for the worker they have not left: a CANCEL sent now could overtake its own request,
    /// find nothing to cancel, and the request would then run with a token that never fires. So it waits for the flush.
    /// </remarks>
    public void SendCancel(WorkerPeer peer, ulong token)
    {
        if (peer.PendingRequests.Count > 0)
        {
            _cancelsAfterFlush.Add((peer, token));
            return;
        }

        socket.TrySend([peer.Identity, CourierWorkerFrame5.CancelFrame(token)]);
    }

    public void SendCommand(byte[] identity, byte[] command) => socket.TrySend([identity, Mdp.Empty, Mdp.WorkerHeader, command]);
}
