using Inventory.Contracts;
using Inventory.Worker;

// A worker service: registers inventory.stock with the broker named in Courier:Worker:BrokerEndpoint
// (appsettings.json, or the environment: Courier__Worker__BrokerEndpoint=tcp://broker:5555), and stops gracefully
// with the host (SIGTERM from `docker stop`).
var builder = Host.CreateApplicationBuilder(args);
builder.Services.AddSingleton<StockTable>();
builder.Services.AddCourierWorker()
    .MapHandler<StockHandler, StockQuery, StockLevel>(InventoryServices.Stock, InventoryJson.Default);
builder.Services.AddHealthChecks().AddCourierWorkerCheck();

await builder.Build().RunAsync();
