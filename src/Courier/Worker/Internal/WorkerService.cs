using System.Text;
using Courier.Server;

namespace Courier.Worker.Internal;

/// <summary>
/// A service a worker serves: its name, its handler, the requests of it the worker runs at once, and those that wait in
/// the worker for a place (<see cref="CourierWorkerOptions.Prefetch"/>).
/// </summary>
internal sealed class WorkerService(string name, CourierHandler handler, int concurrency, bool idempotent = false, int prefetch = 0)
{
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
    public int Prefetch => Waiting.Room;

    /// <summary>Its requests waiting for a place.</summary>
    public WaitingQueue Waiting { get; } = new(Math.Min(prefetch, concurrency));

    /// <summary>The capacity declared to a Courier broker for this service (a plain 7/MDP broker sends one at a time).</summary>
    public int Capacity => Concurrency + Prefetch;

    /// <summary>Whether a request arriving now may start or wait; otherwise it is refused.</summary>
    public bool HasRoom => Running < Concurrency || Waiting.Count < Prefetch;

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
