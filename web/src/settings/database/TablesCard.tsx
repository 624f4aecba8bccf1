// The database's tables with their row counts (exact for small tables, the planner's estimate
// for big ones, marked ~: counting a big table would scan it) and sizes.
import { ActionIcon, Card, Group, Stack, Table, Text, Title, Tooltip } from "@mantine/core";
import { IconRefresh } from "@tabler/icons-react";
import { ErrorAlert } from "../../components/ErrorAlert.tsx";
import { bytes, numberFormat } from "../../format.ts";
import { useDatabaseTables } from "./queries.ts";

/** Counted rows as they are; an estimate with "~"; never analysed: "—". */
function rowCount(rows: number | null, exact: boolean): string {
  if (rows === null) return "—";
  return exact ? numberFormat.format(rows) : `~${numberFormat.format(rows)}`;
}

export function TablesCard({ projectId }: { projectId: string }) {
  const tables = useDatabaseTables(projectId, true);
  const items = tables.data?.items ?? [];
  return (
    <Card withBorder padding="md" aria-labelledby="database-tables-title" data-testid="database-tables">
      <Stack gap="sm">
        <Group justify="space-between">
          <Title order={2} size="h4" id="database-tables-title">
            Tables
          </Title>
          <Tooltip label="Count again">
            <ActionIcon variant="default" aria-label="Refresh the tables" loading={tables.isFetching} onClick={() => void tables.refetch()}>
              <IconRefresh size={16} aria-hidden />
            </ActionIcon>
          </Tooltip>
        </Group>
        {tables.error ? <ErrorAlert error={tables.error} title="The tables cannot be listed" onRetry={() => void tables.refetch()} /> : null}
        {tables.data && items.length === 0 ? (
          <Text size="sm" c="dimmed" data-testid="database-tables-empty">
            No tables yet: migrations and seeds run in a sandbox make them.
          </Text>
        ) : null}
        {items.length > 0 ? (
          <Table verticalSpacing={6} aria-label="Tables">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Schema</Table.Th>
                <Table.Th>Table</Table.Th>
                <Table.Th ta="right">Rows</Table.Th>
                <Table.Th ta="right">Size</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {items.map((t) => (
                <Table.Tr key={`${t.schema}.${t.name}`} data-testid="database-table" data-table={`${t.schema}.${t.name}`}>
                  <Table.Td c="dimmed">{t.schema}</Table.Td>
                  <Table.Td>{t.name}</Table.Td>
                  <Table.Td ta="right" data-testid="database-table-rows" title={t.exact ? "counted" : "the planner's estimate"}>
                    {rowCount(t.rows, t.exact)}
                  </Table.Td>
                  <Table.Td ta="right" c="dimmed">
                    {bytes(t.sizeBytes)}
                  </Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        ) : null}
      </Stack>
    </Card>
  );
}
