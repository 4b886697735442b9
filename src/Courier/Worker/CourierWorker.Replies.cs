using System.Collections.Concurrent;
using Courier.Protocol.Internal;
using Courier.Transport.Internal;

namespace Courier.Worker;

// Loop thread only, except PostCompletion: replies, batched for a broker that takes batches (docs/protocol.md §6).
public sealed partial class CourierWorker
{
    private readonly byte[] _replyHeader = new byte[MdpWorker.CourierReplyLength];
    private readonly List<ReadOnlyMemory<byte>> _replyFrames = [];
    private readonly BatchWriter _replyBatch = new(Batch.WorkerReply);
    private readonly ConcurrentQueue<Completion> _completions = new();
    private readonly byte[] _statusScratch = new byte[3];
    private Action? _drainCompletions;
    private int _completionsScheduled;
    private bool _brokerBatches;

    /// <summary>Where a reply goes: a Courier request's token, or a plain 7/MDP request's client address.</summary>
    private readonly record struct ReplyAddress(ulong Token, byte[]? PlainAddress);

    private readonly record struct Completion(ReplyAddress Address, int Status, IReadOnlyList<ReadOnlyMemory<byte>> Reply, int Epoch);

    /// <summary>
    /// From a handler's thread: queues its reply for the loop, which is woken once for however many finish meanwhile,
    /// so that replies finishing together also leave together.
    /// </summary>
    private void PostCompletion(Completion completion)
    {
        _completions.Enqueue(completion);
        if (Interlocked.Exchange(ref _completionsScheduled, 1) == 0)
        {
            _loop!.Post(_drainCompletions ??= DrainCompletions);
        }
    }

    private void DrainCompletions()
    {
        Volatile.Write(ref _completionsScheduled, 0);
        while (_completions.TryDequeue(out var completion))
        {
            Complete(completion.Address, completion.Status, completion.Reply, completion.Epoch);
        }

        FlushReplies();
    }

    private void Complete(ReplyAddress address, int status, IReadOnlyList<ReadOnlyMemory<byte>> reply, int epoch)
    {
        Interlocked.Decrement(ref _inFlight);
        if (epoch == _epoch && _socket is not null)
        {
            // A reply for a request from an earlier connection is dropped: the broker has given that request to another worker.
            SendReply(address, status, reply);
        }

        if (_draining && _inFlight == 0)
        {
            FlushReplies();
            _drained.TrySetResult();
        }
    }

    private void SendReply(ReplyAddress address, int status, IReadOnlyList<ReadOnlyMemory<byte>> body)
    {
        if (address.PlainAddress is null)
        {
            if (_brokerBatches && Batch.Fits(body.Count, body.Count == 1 ? body[0].Length : 0))
            {
                Mdp.StatusFrame(status).CopyTo(_statusScratch, 0);
                if (!_replyBatch.TryAdd(address.Token, _statusScratch, body[0].Span))
                {
                    FlushReplies();
                    _replyBatch.TryAdd(address.Token, _statusScratch, body[0].Span);
                }

                return;
            }

            SendCourierReply(address.Token, status, body);
            return;
        }

        var frames = new List<ReadOnlyMemory<byte>>(7 + body.Count) { Mdp.Empty, Mdp.WorkerHeader, MdpWorker.ReplyFrame, address.PlainAddress, Mdp.Empty };
        if (_mode == Mode.Courier || status != Protocol.CourierStatus.Ok)
        {
            // A Courier broker reads a status frame; a stock broker passes the body through, so an error is
            // [status, message], as Courier servers answer 7/MDP clients.
            frames.Add(Mdp.StatusFrame(status));
        }

        frames.AddRange(body);
        _socket!.TrySend(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(frames));
    }

    /// <summary>One REPLY in the one-frame Courier header, built in reused buffers: the transports copy frames when they send.</summary>
    private void SendCourierReply(ulong token, int status, IReadOnlyList<ReadOnlyMemory<byte>> body)
    {
        MdpWorker.WriteCourierReply(_replyHeader, token, status);
        var courier = _replyFrames;
        courier.Clear();
        courier.Add(_replyHeader);
        for (var i = 0; i < body.Count; i++)
        {
            courier.Add(body[i]);
        }

        _socket!.TrySend(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(courier));
        courier.Clear(); // holds no reply past its sending
    }

    /// <summary>Sends the replies batched so far: one alone as an ordinary REPLY, more as one batch.</summary>
    private void FlushReplies()
    {
        var batch = _replyBatch;
        if (batch.Count == 0)
        {
            return;
        }

        if (_socket is not null)
        {
            if (batch.Count == 1)
            {
                var record = batch.Single();
                MdpWorker.WriteCourierReply(_replyHeader, record.Id, Mdp.ParseStatus(record.Tag));
                _socket.TrySend([_replyHeader, batch.Slice(record.BodyOffset, record.Body.Length)]);
            }
            else
            {
                _socket.TrySend([batch.Frame]);
            }
        }

        batch.Reset();
    }
}
