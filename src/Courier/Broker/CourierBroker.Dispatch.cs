using Courier.Broker.Internal;
using Courier.Internal;
using Courier.Protocol.Internal;
using Courier.Transport.Internal;

namespace Courier.Broker;

// Loop thread only: receiving, sending, and matching queued requests with workers.
public sealed partial class CourierBroker
{
    private const int ReceiveBatch = 1024;
    private const int MaxSharedPeerIds = 65_536;
    private readonly MessageFrames _message = new();
    private readonly List<byte[]> _received = [];
    private readonly List<ReadOnlyMemory<byte>> _replyBody = [];
    private readonly HashSet<byte[]> _peerIds = new(ByteArrayComparer.Instance);
    private readonly List<ReadOnlyMemory<byte>> _outgoing = [];
    private readonly List<BrokerWorker> _workersToFlush = [];

    // Headers are written here rather than allocated per message: both transports copy a frame when it is sent.
    private readonly byte[] _workerRequestHeader = new byte[MdpWorker.CourierRequestLength];
    private readonly byte[] _clientReplyHeader = new byte[Mdp.CourierReplyHeaderLength];
    private long _dispatchSequence;

    private void OnReadable()
    {
        for (var i = 0; i < ReceiveBatch && _socket!.TryReceive(_message); i++)
        {
            var message = _message;
            if (message.Count == 2 && message[1].SequenceEqual(DisconnectNotice))
            {
                OnPeerDisconnected(message.ToArray(0));
            }
            else if (message.Count >= 2 && MdpWorker.IsCourier(message[1], MdpWorker.Reply, MdpWorker.CourierReplyLength))
            {
                OnCourierReply(message);
            }
            else if (message.Count == 2 && Batch.Is(message[1], Batch.WorkerReply))
            {
                OnReplyBatch(message);
            }
            else if (message.Count >= 3 && message.Length(message.Count - 2) == 0 && Batch.Is(message[message.Count - 1], Batch.ClientRequest))
            {
                OnClientBatch(message);
            }
            else if (message.Count >= 4 && message.Length(1) == 0 && message[2].SequenceEqual(Mdp.WorkerHeader))
            {
                // 7/MDP worker commands and plain workers' replies get frames of their own.
                var frames = _received;
                frames.Clear();
                frames.Add(PeerId(message[0]));
                for (var f = 1; f < message.Count; f++)
                {
                    frames.Add(message.ToArray(f));
                }

                OnWorkerMessage(frames);
            }
            else
            {
                // A request is kept until its reply (and requeued if its worker dies), in arrays of the pooled request
                // that will hold it. Routing ids are shared: a client sends many requests.
                var request = RentRequest();
                OnClientMessage(request, request.CopyFrames(message, PeerId(message[0])));
            }
        }

        Flush();
    }

    /// <summary>The one array holding routing id <paramref name="id"/>: a client's requests need not each copy it.</summary>
    private byte[] PeerId(ReadOnlySpan<byte> id)
    {
        var lookup = _peerIds.GetAlternateLookup<ReadOnlySpan<byte>>();
        if (lookup.TryGetValue(id, out var shared))
        {
            return shared;
        }

        if (_peerIds.Count >= MaxSharedPeerIds)
        {
            _peerIds.Clear(); // peers come and go: start afresh rather than grow without bound
        }

        shared = id.ToArray();
        _peerIds.Add(shared);
        return shared;
    }

    /// <summary>Hands queued requests of <paramref name="service"/> to its least-loaded workers while any has room.</summary>
    private void Dispatch(BrokerService service)
    {
        while (service.Queue.First is { } request)
        {
            var worker = LeastLoaded(service);
            if (worker is null)
            {
                return;
            }

            service.Queue.Remove(request);
            worker.Outstanding.Add(request.Token, request);
            worker.LastDispatch = ++_dispatchSequence;
            if (!SendRequest(worker, request))
            {
                // Its queue is full or its connection gone: treat it as dead; the request goes back to the front.
                RemoveWorker(worker, "send refused", died: false);
            }
        }
    }

    private static BrokerWorker? LeastLoaded(BrokerService service)
    {
        BrokerWorker? best = null;
        foreach (var worker in service.Workers)
        {
            if (worker.HasRoom && (best is null
                || worker.Outstanding.Count < best.Outstanding.Count
                || (worker.Outstanding.Count == best.Outstanding.Count && worker.LastDispatch < best.LastDispatch)))
            {
                best = worker;
            }
        }

        return best;
    }

    private bool SendRequest(BrokerWorker worker, BrokerRequest request)
    {
        if (worker.Batches && request.Batched && Batch.Fits(1, request.Body.Length))
        {
            // Packed with whatever else this worker gets before the loop next sends (Flush).
            var batch = worker.Pending ??= new BatchWriter(Batch.WorkerRequest);
            if (batch.Count == 0)
            {
                _workersToFlush.Add(worker);
            }

            if (batch.TryAdd(request.Token, default, request.Body.Span))
            {
                return true;
            }

            // Full: send it now and start the next.
            if (!SendWorkerBatch(worker, batch))
            {
                return false;
            }

            batch.TryAdd(request.Token, default, request.Body.Span);
            return true;
        }

        var frames = _outgoing;
        frames.Clear();
        frames.Add(worker.Identity);
        if (worker.Courier)
        {
            MdpWorker.WriteCourierRequest(_workerRequestHeader, request.Token);
            frames.Add(_workerRequestHeader);
        }
        else
        {
            frames.Add(Mdp.Empty);
            frames.Add(Mdp.WorkerHeader);
            frames.Add(MdpWorker.RequestFrame);
            frames.Add(request.TokenFrame);
            frames.Add(Mdp.Empty);
        }

        if (request.Batched)
        {
            frames.Add(request.Body);
        }
        else
        {
            for (var i = request.Parsed.BodyStart; i < request.Frames.Length; i++)
            {
                frames.Add(request.Frames[i]);
            }
        }

        return _socket!.TrySend(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(frames));
    }

    /// <summary>Sends <paramref name="batch"/> to <paramref name="worker"/> (one request alone in the ordinary form) and empties it.</summary>
    private bool SendWorkerBatch(BrokerWorker worker, BatchWriter batch)
    {
        bool sent;
        if (batch.Count == 1)
        {
            var record = batch.Single();
            MdpWorker.WriteCourierRequest(_workerRequestHeader, record.Id);
            sent = _socket!.TrySend([worker.Identity, _workerRequestHeader, batch.Slice(record.BodyOffset, record.Body.Length)]);
        }
        else
        {
            sent = _socket!.TrySend([worker.Identity, batch.Frame]);
        }

        batch.Reset();
        return sent;
    }

    /// <summary>
    /// Sends what was batched while handling the last messages: requests to workers, then replies to clients. Runs
    /// at the end of every turn of the loop, so a batch holds only what was ready at once and never waits for more.
    /// </summary>
    private void Flush()
    {
        // A refused send makes its worker dead, and its requests may go into other workers' batches: repeat until none.
        while (_workersToFlush.Count > 0)
        {
            var worker = _workersToFlush[^1];
            _workersToFlush.RemoveAt(_workersToFlush.Count - 1);
            if (worker.Pending is { Count: > 0 } batch && !SendWorkerBatch(worker, batch))
            {
                RemoveWorker(worker, "send refused", died: false);
            }
        }

        _clientReplies.Flush(_socket!);
    }

    private void SendToWorker(BrokerWorker worker, byte[] command)
        => Send([worker.Identity, Mdp.Empty, Mdp.WorkerHeader, command]);

    private void Send(ReadOnlyMemory<byte>[] frames) => _socket!.TrySend(frames);
}
