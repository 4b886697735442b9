using System.Text.Json;
using System.Text.Json.Serialization;

namespace Inventory.Contracts;

/// <summary>The services the inventory worker serves.</summary>
public static class InventoryServices
{
    public const string Stock = "inventory.stock";
}

/// <summary>Asks how many of an item are in stock.</summary>
public sealed record StockQuery(string Sku);

/// <summary>How many are in stock, and where.</summary>
public sealed record StockLevel(string Sku, int Available, string Warehouse);

/// <summary>JSON metadata generated at build time: no reflection, so trimming and native AOT work.</summary>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web)]
[JsonSerializable(typeof(StockQuery))]
[JsonSerializable(typeof(StockLevel))]
public sealed partial class InventoryJson : JsonSerializerContext;
