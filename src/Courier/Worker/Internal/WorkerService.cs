using System.Text;
using Courier.Server;

namespace Courier.Worker.Internal;

/// <summary>
/// A service a worker serves: its name, its handler, the requests of it the worker runs at once, and those that wait in
/// the worker for a place (<see cref="CourierWorkerOptions.Prefetch"/>).
/// </summary>
internal sealed class WorkerService(string name, CourierHandler handler, int concurrency, bool idempotent = false, int prefetch = 0)
{
    private readonly Queue<WaitingRequest> _waiting = new();
    private int _waitingCount; // the queue's count, for a metrics listener on another thread

    public string Name { get; } = name;

    /// <summary>The name as sent in READY, and as a courier/4 REQUEST names it.</summary>
    public byte[] NameFrame { get; } = Encoding.UTF8.GetBytes(name);

    public CourierHandler Handler { get; } = handler;

    /// <summary>Handlers of this service that may run at once.</summary>
    public int Concurrency { get; } = concurrency;

    /// <summary>
    /// Requests of this service that may wait for a place once <see cref="Concurrency"/> run: the worker's prefetch, but
    /// never more than the service's own concurrency (a service mapped to run one at a time holds one more, not 100).
    /// </summary>
    public int Prefetch { get; } = Math.Min(prefetch, concurrency);

    /// <summary>The capacity declared to a Courier broker for this service (a plain 7/MDP broker sends one at a time).</summary>
    public int Capacity => Concurrency + Prefetch;

    /// <summary>Requests waiting for a place (loop thread).</summary>
    public int Waiting => _waiting.Count;

    /// <summary>Whether a request arriving now may start or wait; otherwise it is refused.</summary>
    public bool HasRoom => Running < Concurrency || _waiting.Count < Prefetch;

    /// <summary>Declared idempotent at READY (courier/5): a broker may give its requests to another worker after a stall or a death.</summary>
    public bool Idempotent { get; } = idempotent;

    /// <summary>Handlers of this service running now (loop thread): never more than <see cref="Concurrency"/>.</summary>
    public int Running { get; private set; }

    /// <summary>Takes one of the service's places; the handler's outcome gives it back (once, however often it is answered).</summary>
    public Slot Take()
    {
        Running++;
        return new Slot(this);
    }

    /// <summary>The same service with nothing running or waiting: each broker's engine keeps its own counts, on its own loop.</summary>
    public WorkerService Copy() => new(Name, Handler, Concurrency, Idempotent, Prefetch);

    /// <summary>A request that arrived while <see cref="Concurrency"/> handlers ran: it starts when one finishes.</summary>
    public void Wait(WaitingRequest request)
    {
        _waiting.Enqueue(request);
        Volatile.Write(ref _waitingCount, _waiting.Count);
    }

    /// <summary>Requests waiting now, read from any thread (metrics).</summary>
    public int WaitingNow => Volatile.Read(ref _waitingCount);

    /// <summary>Removes the waiting requests <paramref name="gone"/> picks, handing each to <paramref name="drop"/>; the rest keep their order.</summary>
    public void DropWaiting(Func<WaitingRequest, bool> gone, Action<WaitingRequest> drop)
    {
        for (var left = _waiting.Count; left > 0; left--)
        {
            var waiting = _waiting.Dequeue();
            if (gone(waiting))
            {
                drop(waiting);
            }
            else
            {
                _waiting.Enqueue(waiting);
            }
        }

        Volatile.Write(ref _waitingCount, _waiting.Count);
    }

    /// <summary>The longest-waiting request, if any.</summary>
    public bool TryTakeWaiting(out WaitingRequest request)
    {
        var taken = _waiting.TryDequeue(out request);
        Volatile.Write(ref _waitingCount, _waiting.Count);
        return taken;
    }

    /// <summary>One running handler's place in its service's <see cref="Concurrency"/>.</summary>
    internal sealed class Slot(WorkerService service)
    {
        private bool _released;

        /// <summary>The service whose place it is.</summary>
        public WorkerService Service => service;

        public void Release()
        {
            if (!_released)
            {
                _released = true;
                service.Running--;
            }
        }
    }
}

/// <summary>A request admitted but not started: what starting it needs, kept in the order it came.</summary>
internal readonly record struct WaitingRequest(
    WorkerConnection Connection, ReplyAddress Address, Transport.Internal.LentBody Body, ReadOnlyMemory<byte> Headers, Serving.Internal.HandlerCall? Call);
