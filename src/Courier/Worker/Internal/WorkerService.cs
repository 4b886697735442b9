using System.Text;
using Courier.Server;

namespace Courier.Worker.Internal;

/// <summary>A service a worker serves: its name, its handler, and the requests of it the worker takes at once.</summary>
internal sealed class WorkerService(string name, CourierHandler handler, int concurrency, bool idempotent = false)
{
    public string Name { get; } = name;

    /// <summary>The name as sent in READY, and as a courier/4 REQUEST names it.</summary>
    public byte[] NameFrame { get; } = Encoding.UTF8.GetBytes(name);

    public CourierHandler Handler { get; } = handler;

    /// <summary>The capacity declared to a Courier broker for this service (a plain 7/MDP broker sends one at a time).</summary>
    public int Concurrency { get; } = concurrency;

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

    /// <summary>One running handler's place in its service's <see cref="Concurrency"/>.</summary>
    internal sealed class Slot(WorkerService service)
    {
        private bool _released;

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
