// The allscale-checkout Grafana dashboard: dashboards/allscale-checkout.json is generated from this (mixin/generate.py).
{
  "annotations": {
    "list": [
      {
        "builtIn": 1,
        "datasource": {
          "type": "grafana",
          "uid": "-- Grafana --"
        },
        "enable": true,
        "hide": true,
        "iconColor": "rgba(0, 211, 255, 1)",
        "name": "Annotations & Alerts",
        "type": "dashboard"
      }
    ]
  },
  "description": "AllScale Checkout payments watched by allscale-exporter: outcomes, conversion, stuck intents, API health.",
  "editable": true,
  "fiscalYearStartMonth": 0,
  "graphTooltip": 1,
  "id": null,
  "links": [
    {
      "title": "Exporter health",
      "type": "link",
      "url": "/d/allscale-exporter-health",
      "icon": "dashboard",
      "includeVars": true,
      "keepTime": true,
      "tooltip": "",
      "tags": [],
      "asDropdown": false,
      "targetBlank": false
    },
    {
      "title": "Runbook",
      "type": "link",
      "icon": "doc",
      "url": "https://github.com/allscale/allscale-exporter/blob/main/docs/runbook.md",
      "includeVars": false,
      "keepTime": false,
      "tooltip": "",
      "tags": [],
      "asDropdown": false,
      "targetBlank": true
    }
  ],
  "panels": [
    {
      "type": "row",
      "title": "Overview",
      "collapsed": false,
      "panels": [],
      "gridPos": {
        "h": 1,
        "w": 24,
        "x": 0,
        "y": 0
      },
      "id": 1
    },
    {
      "type": "stat",
      "title": "Outcomes in the time range",
      "description": "Checkout intents that reached each terminal outcome during the dashboard's time range (increase of allscale_checkout_intent_terminal_total). Each intent counts once in its life.",
      "datasource": {
        "type": "prometheus",
        "uid": "${datasource}"
      },
      "gridPos": {
        "x": 0,
        "y": 1,
        "w": 12,
        "h": 5
      },
      "targets": [
        {
          "datasource": {
            "type": "prometheus",
            "uid": "${datasource}"
          },
          "refId": "A",
          "expr": "sum by (outcome) (increase(allscale_checkout_intent_terminal_total{job=~\"$job\",instance=~\"$instance\",store=~\"$store\"}[$__range]))",
          "legendFormat": "{{outcome}}",
          "range": false,
          "instant": true,
          "editorMode": "code"
        }
      ],
      "fieldConfig": {
        "defaults": {
          "unit": "short",
          "mappings": [],
          "thresholds": {
            "mode": "absolute",
            "steps": [
              {
                "color": "blue",
                "value": null
              }
            ]
          },
          "color": {
            "mode": "fixed",
            "fixedColor": "blue"
          },
          "decimals": 0
        },
        "overrides": [
          {
            "matcher": {
              "id": "byName",
              "options": "confirmed"
            },
            "properties": [
              {
                "id": "color",
                "value": {
                  "mode": "fixed",
                  "fixedColor": "green"
                }
              }
            ]
          },
          {
            "matcher": {
              "id": "byName",
              "options": "failed"
            },
            "properties": [
              {
                "id": "color",
                "value": {
                  "mode": "fixed",
                  "fixedColor": "red"
                }
              }
            ]
          },
          {
            "matcher": {
              "id": "byName",
              "options": "rejected"
            },
            "properties": [
              {
                "id": "color",
                "value": {
                  "mode": "fixed",
                  "fixedColor": "dark-red"
                }
              }
            ]
          },
          {
            "matcher": {
              "id": "byName",
              "options": "underpaid"
            },
            "properties": [
              {
                "id": "color",
                "value": {
                  "mode": "fixed",
                  "fixedColor": "orange"
                }
              }
            ]
          },
          {
            "matcher": {
              "id": "byName",
              "options": "canceled"
            },
            "properties": [
              {
                "id": "color",
                "value": {
                  "mode": "fixed",
                  "fixedColor": "blue"
                }
              }
            ]
          },
          {
            "matcher": {
              "id": "byName",
              "options": "timeout"
            },
            "properties": [
              {
                "id": "color",
                "value": {
                  "mode": "fixed",
                  "fixedColor": "purple"
                }
              }
            ]
          }
        ]
      },
      "options": {
        "reduceOptions": {
          "calcs": [
            "lastNotNull"
          ],
          "fields": "",
          "values": false
        },
        "orientation": "auto",
        "textMode": "value_and_name",
        "colorMode": "background",
        "graphMode": "none",
        "justifyMode": "auto",
        "wideLayout": true,
        "showPercentChange": false
      },
      "id": 2
    },
    {
      "type": "stat",
      "title": "Conversion in the time range",
      "description": "Confirmed / all terminal outcomes during the dashboard's time range. Empty when nothing finished.",
      "datasource": {
        "type": "prometheus",
        "uid": "${datasource}"
      },
      "gridPos": {
        "x": 12,
        "y": 1,
        "w": 4,
        "h": 5
      },
      "targets": [
        {
          "datasource": {
            "type": "prometheus",
            "uid": "${datasource}"
          },
          "refId": "A",
          "expr": "sum(increase(allscale_checkout_intent_terminal_total{job=~\"$job\",instance=~\"$instance\",store=~\"$store\",outcome=\"confirmed\"}[$__range]))\n/\nsum(increase(allscale_checkout_intent_terminal_total{job=~\"$job\",instance=~\"$instance\",store=~\"$store\"}[$__range]))",
          "legendFormat": "conversion",
          "range": false,
          "instant": true,
          "editorMode": "code"
        }
      ],
      "fieldConfig": {
        "defaults": {
          "unit": "percentunit",
          "mappings": [],
          "thresholds": {
            "mode": "absolute",
            "steps": [
              {
                "color": "red",
                "value": null
              },
              {
                "color": "orange",
                "value": 0.5
              },
              {
                "color": "green",
                "value": 0.8
              }
            ]
          },
          "color": {
            "mode": "thresholds"
          },
          "decimals": 1
        },
        "overrides": []
      },
      "options": {
        "reduceOptions": {
          "calcs": [
            "lastNotNull"
          ],
          "fields": "",
          "values": false
        },
        "orientation": "auto",
        "textMode": "auto",
        "colorMode": "value",
        "graphMode": "none",
        "justifyMode": "auto",
        "wideLayout": true,
        "showPercentChange": false
      },
      "id": 3
    },
    {
      "type": "stat",
      "title": "Watched intents",
      "description": "Intents in the exporter's watch list (allscale_exporter_watched_intents), all selected stores.",
      "datasource": {
        "type": "prometheus",
        "uid": "${datasource}"
      },
      "gridPos": {
        "x": 16,
        "y": 1,
        "w": 4,
        "h": 5
      },
      "targets": [
        {
          "datasource": {
            "type": "prometheus",
            "uid": "${datasource}"
          },
          "refId": "A",
          "expr": "sum(allscale_exporter_watched_intents{job=~\"$job\",instance=~\"$instance\",store=~\"$store\"})",
          "legendFormat": "watched",
          "range": false,
          "instant": true,
          "editorMode": "code"
        }
      ],
      "fieldConfig": {
        "defaults": {
          "unit": "short",
          "mappings": [],
          "thresholds": {
            "mode": "absolute",
            "steps": [
              {
                "color": "green",
                "value": null
              }
            ]
          },
          "color": {
            "mode": "thresholds"
          },
          "decimals": 0
        },
        "overrides": []
      },
      "options": {
        "reduceOptions": {
          "calcs": [
            "lastNotNull"
          ],
          "fields": "",
          "values": false
        },
        "orientation": "auto",
        "textMode": "auto",
        "colorMode": "value",
        "graphMode": "none",
        "justifyMode": "auto",
        "wideLayout": true,
        "showPercentChange": false
      },
      "id": 4
    },
    {
      "type": "stat",
      "title": "Stuck on chain > 30m",
      "description": "Intents on chain (status 10) for more than 30 minutes: the AllScaleCheckoutIntentStuckOnChain alert fires for each. See the table below.",
      "datasource": {
        "type": "prometheus",
        "uid": "${datasource}"
      },
      "gridPos": {
        "x": 20,
        "y": 1,
        "w": 4,
        "h": 5
      },
      "targets": [
        {
          "datasource": {
            "type": "prometheus",
            "uid": "${datasource}"
          },
          "refId": "A",
          "expr": "count(\n  (time() - allscale_checkout_intent_status_change_timestamp_seconds{job=~\"$job\",instance=~\"$instance\",store=~\"$store\"}) > 1800\n  and on (store, intent_id)\n  allscale_checkout_intent_status{job=~\"$job\",instance=~\"$instance\",store=~\"$store\"} == 10\n) or vector(0)",
          "legendFormat": "stuck",
          "range": false,
          "instant": true,
          "editorMode": "code"
        }
      ],
      "fieldConfig": {
        "defaults": {
          "unit": "short",
          "mappings": [],
          "thresholds": {
            "mode": "absolute",
            "steps": [
              {
                "color": "green",
                "value": null
              },
              {
                "color": "orange",
                "value": 1
              }
            ]
          },
          "color": {
            "mode": "thresholds"
          },
          "decimals": 0
        },
        "overrides": []
      },
      "options": {
        "reduceOptions": {
          "calcs": [
            "lastNotNull"
          ],
          "fields": "",
          "values": false
        },
        "orientation": "auto",
        "textMode": "auto",
        "colorMode": "value",
        "graphMode": "none",
        "justifyMode": "auto",
        "wideLayout": true,
        "showPercentChange": false
      },
      "id": 5
    },
    {
      "type": "row",
      "title": "Outcomes and conversion",
      "collapsed": false,
      "panels": [],
      "gridPos": {
        "h": 1,
        "w": 24,
        "x": 0,
        "y": 6
      },
      "id": 6
    },
    {
      "type": "timeseries",
      "title": "Outcomes over time by kind",
      "description": "Terminal outcomes per minute, by outcome (rate of allscale_checkout_intent_terminal_total over $__rate_interval, times 60).",
      "datasource": {
        "type": "prometheus",
        "uid": "${datasource}"
      },
      "gridPos": {
        "x": 0,
        "y": 7,
        "w": 12,
        "h": 9
      },
      "targets": [
        {
          "datasource": {
            "type": "prometheus",
            "uid": "${datasource}"
          },
          "refId": "A",
          "expr": "sum by (outcome) (rate(allscale_checkout_intent_terminal_total{job=~\"$job\",instance=~\"$instance\",store=~\"$store\"}[$__rate_interval])) * 60",
          "legendFormat": "{{outcome}}",
          "range": true,
          "instant": false,
          "editorMode": "code"
        }
      ],
      "fieldConfig": {
        "defaults": {
          "unit": "cpm",
          "custom": {
            "drawStyle": "bars",
            "lineWidth": 1,
            "fillOpacity": 60,
            "showPoints": "never",
            "spanNulls": false,
            "stacking": {
              "mode": "normal",
              "group": "A"
            },
            "axisSoftMin": 0
          },
          "color": {
            "mode": "palette-classic"
          },
          "thresholds": {
            "mode": "absolute",
            "steps": [
              {
                "color": "green",
                "value": null
              }
            ]
          },
          "mappings": []
        },
        "overrides": [
          {
            "matcher": {
              "id": "byName",
              "options": "confirmed"
            },
            "properties": [
              {
                "id": "color",
                "value": {
                  "mode": "fixed",
                  "fixedColor": "green"
                }
              }
            ]
          },
          {
            "matcher": {
              "id": "byName",
              "options": "failed"
            },
            "properties": [
              {
                "id": "color",
                "value": {
                  "mode": "fixed",
                  "fixedColor": "red"
                }
              }
            ]
          },
          {
            "matcher": {
              "id": "byName",
              "options": "rejected"
            },
            "properties": [
              {
                "id": "color",
                "value": {
                  "mode": "fixed",
                  "fixedColor": "dark-red"
                }
              }
            ]
          },
          {
            "matcher": {
              "id": "byName",
              "options": "underpaid"
            },
            "properties": [
              {
                "id": "color",
                "value": {
                  "mode": "fixed",
                  "fixedColor": "orange"
                }
              }
            ]
          },
          {
            "matcher": {
              "id": "byName",
              "options": "canceled"
            },
            "properties": [
              {
                "id": "color",
                "value": {
                  "mode": "fixed",
                  "fixedColor": "blue"
                }
              }
            ]
          },
          {
            "matcher": {
              "id": "byName",
              "options": "timeout"
            },
            "properties": [
              {
                "id": "color",
                "value": {
                  "mode": "fixed",
                  "fixedColor": "purple"
                }
              }
            ]
          }
        ]
      },
      "options": {
        "legend": {
          "displayMode": "table",
          "placement": "right",
          "showLegend": true,
          "calcs": [
            "lastNotNull",
            "max"
          ]
        },
        "tooltip": {
          "mode": "multi",
          "sort": "desc"
        }
      },
      "id": 7
    },
    {
      "type": "timeseries",
      "title": "Conversion and abandonment (1h rolling)",
      "description": "Per store, over the last hour: conversion = confirmed / all terminal outcomes; abandonment = (canceled + timeout) / all; loss = (failed + rejected + underpaid) / all. From the recording rules in deploy/prometheus/rules.yml. Gaps: nothing finished in that hour.",
      "datasource": {
        "type": "prometheus",
        "uid": "${datasource}"
      },
      "gridPos": {
        "x": 12,
        "y": 7,
        "w": 12,
        "h": 9
      },
      "targets": [
        {
          "datasource": {
            "type": "prometheus",
            "uid": "${datasource}"
          },
          "refId": "A",
          "expr": "store:allscale_checkout_conversion:ratio1h{store=~\"$store\"}",
          "legendFormat": "conversion {{store}}",
          "range": true,
          "instant": false,
          "editorMode": "code"
        },
        {
          "datasource": {
            "type": "prometheus",
            "uid": "${datasource}"
          },
          "refId": "B",
          "expr": "store:allscale_checkout_abandonment:ratio1h{store=~\"$store\"}",
          "legendFormat": "abandonment {{store}}",
          "range": true,
          "instant": false,
          "editorMode": "code"
        },
        {
          "datasource": {
            "type": "prometheus",
            "uid": "${datasource}"
          },
          "refId": "C",
          "expr": "store:allscale_checkout_loss:ratio1h{store=~\"$store\"}",
          "legendFormat": "loss {{store}}",
          "range": true,
          "instant": false,
          "editorMode": "code"
        }
      ],
      "fieldConfig": {
        "defaults": {
          "unit": "percentunit",
          "custom": {
            "drawStyle": "line",
            "lineWidth": 1,
            "fillOpacity": 10,
            "showPoints": "never",
            "spanNulls": false,
            "stacking": {
              "mode": "none",
              "group": "A"
            },
            "axisSoftMin": 0
          },
          "color": {
            "mode": "palette-classic"
          },
          "thresholds": {
            "mode": "absolute",
            "steps": [
              {
                "color": "green",
                "value": null
              }
            ]
          },
          "mappings": [],
          "min": 0,
          "max": 1
        },
        "overrides": []
      },
      "options": {
        "legend": {
          "displayMode": "table",
          "placement": "right",
          "showLegend": true,
          "calcs": [
            "lastNotNull",
            "max"
          ]
        },
        "tooltip": {
          "mode": "multi",
          "sort": "desc"
        }
      },
      "id": 8
    },
    {
      "type": "row",
      "title": "Intents now",
      "collapsed": false,
      "panels": [],
      "gridPos": {
        "h": 1,
        "w": 24,
        "x": 0,
        "y": 16
      },
      "id": 9
    },
    {
      "type": "bargauge",
      "title": "Intents by status now",
      "description": "Watched intents per status right now (allscale_checkout_intents). unknown = a status integer the exporter does not know; not_found = the API answered 50001.",
      "datasource": {
        "type": "prometheus",
        "uid": "${datasource}"
      },
      "gridPos": {
        "x": 0,
        "y": 17,
        "w": 8,
        "h": 11
      },
      "targets": [
        {
          "datasource": {
            "type": "prometheus",
            "uid": "${datasource}"
          },
          "refId": "A",
          "expr": "sum by (status) (allscale_checkout_intents{job=~\"$job\",instance=~\"$instance\",store=~\"$store\"})",
          "legendFormat": "{{status}}",
          "range": false,
          "instant": true,
          "editorMode": "code"
        }
      ],
      "fieldConfig": {
        "defaults": {
          "unit": "short",
          "decimals": 0,
          "min": 0,
          "color": {
            "mode": "fixed",
            "fixedColor": "blue"
          },
          "thresholds": {
            "mode": "absolute",
            "steps": [
              {
                "color": "blue",
                "value": null
              }
            ]
          },
          "mappings": []
        },
        "overrides": [
          {
            "matcher": {
              "id": "byName",
              "options": "confirmed"
            },
            "properties": [
              {
                "id": "color",
                "value": {
                  "mode": "fixed",
                  "fixedColor": "green"
                }
              }
            ]
          },
          {
            "matcher": {
              "id": "byName",
              "options": "failed"
            },
            "properties": [
              {
                "id": "color",
                "value": {
                  "mode": "fixed",
                  "fixedColor": "red"
                }
              }
            ]
          },
          {
            "matcher": {
              "id": "byName",
              "options": "rejected"
            },
            "properties": [
              {
                "id": "color",
                "value": {
                  "mode": "fixed",
                  "fixedColor": "dark-red"
                }
              }
            ]
          },
          {
            "matcher": {
              "id": "byName",
              "options": "underpaid"
            },
            "properties": [
              {
                "id": "color",
                "value": {
                  "mode": "fixed",
                  "fixedColor": "orange"
                }
              }
            ]
          },
          {
            "matcher": {
              "id": "byName",
              "options": "canceled"
            },
            "properties": [
              {
                "id": "color",
                "value": {
                  "mode": "fixed",
                  "fixedColor": "blue"
                }
              }
            ]
          },
          {
            "matcher": {
              "id": "byName",
              "options": "timeout"
            },
            "properties": [
              {
                "id": "color",
                "value": {
                  "mode": "fixed",
                  "fixedColor": "purple"
                }
              }
            ]
          }
        ]
      },
      "options": {
        "orientation": "horizontal",
        "displayMode": "basic",
        "showUnfilled": true,
        "valueMode": "color",
        "namePlacement": "auto",
        "sizing": "auto",
        "minVizHeight": 10,
        "minVizWidth": 0,
        "maxVizHeight": 300,
        "reduceOptions": {
          "calcs": [
            "lastNotNull"
          ],
          "fields": "",
          "values": false
        }
      },
      "id": 10
    },
    {
      "type": "table",
      "title": "Non-terminal intents by time in status (stuck intents)",
      "description": "Every watched intent that is not terminal yet, longest in its status first: id, order id (if configured), status, and time since the exporter first saw that status. Orange after 30 minutes, red after 2 hours (the stuck-intent alerts use 30m on chain, 1h pending manual operation, 2h before payment).",
      "datasource": {
        "type": "prometheus",
        "uid": "${datasource}"
      },
      "gridPos": {
        "x": 8,
        "y": 17,
        "w": 10,
        "h": 11
      },
      "targets": [
        {
          "datasource": {
            "type": "prometheus",
            "uid": "${datasource}"
          },
          "refId": "A",
          "expr": "max by (store, intent_id, order_id) (\n  (time() - allscale_checkout_intent_status_change_timestamp_seconds{job=~\"$job\",instance=~\"$instance\",store=~\"$store\"}) * on (store, intent_id) group_left (order_id) allscale_checkout_intent_info{job=~\"$job\",instance=~\"$instance\",store=~\"$store\"}\n  or on (store, intent_id)\n  (time() - allscale_checkout_intent_status_change_timestamp_seconds{job=~\"$job\",instance=~\"$instance\",store=~\"$store\"})\n)\nand on (store, intent_id)\n(allscale_checkout_intent_status{job=~\"$job\",instance=~\"$instance\",store=~\"$store\"} != 20\n  unless allscale_checkout_intent_status{job=~\"$job\",instance=~\"$instance\",store=~\"$store\"} <= -1 >= -5)",
          "legendFormat": "",
          "range": false,
          "instant": true,
          "editorMode": "code",
          "format": "table"
        },
        {
          "datasource": {
            "type": "prometheus",
            "uid": "${datasource}"
          },
          "refId": "B",
          "expr": "max by (store, intent_id) (\n  allscale_checkout_intent_status{job=~\"$job\",instance=~\"$instance\",store=~\"$store\"} != 20\n  unless allscale_checkout_intent_status{job=~\"$job\",instance=~\"$instance\",store=~\"$store\"} <= -1 >= -5\n)",
          "legendFormat": "",
          "range": false,
          "instant": true,
          "editorMode": "code",
          "format": "table"
        }
      ],
      "transformations": [
        {
          "id": "merge",
          "options": {}
        },
        {
          "id": "organize",
          "options": {
            "excludeByName": {
              "Time": true
            },
            "indexByName": {
              "store": 0,
              "intent_id": 1,
              "order_id": 2,
              "Value #B": 3,
              "Value #A": 4
            },
            "renameByName": {
              "store": "Store",
              "intent_id": "Intent",
              "order_id": "Order",
              "Value #A": "Time in status",
              "Value #B": "Status"
            }
          }
        }
      ],
      "fieldConfig": {
        "defaults": {
          "unit": "s",
          "decimals": 0,
          "custom": {
            "align": "auto",
            "cellOptions": {
              "type": "auto"
            },
            "inspect": false
          },
          "thresholds": {
            "mode": "absolute",
            "steps": [
              {
                "color": "green",
                "value": null
              },
              {
                "color": "orange",
                "value": 1800
              },
              {
                "color": "red",
                "value": 7200
              }
            ]
          },
          "color": {
            "mode": "thresholds"
          },
          "mappings": []
        },
        "overrides": [
          {
            "matcher": {
              "id": "byName",
              "options": "Status"
            },
            "properties": [
              {
                "id": "unit",
                "value": "none"
              },
              {
                "id": "mappings",
                "value": [
                  {
                    "type": "value",
                    "options": {
                      "1": {
                        "text": "created (1)",
                        "index": 0
                      },
                      "2": {
                        "text": "viewed (paying) (2)",
                        "index": 1
                      },
                      "3": {
                        "text": "temp_wallet_received (3)",
                        "index": 2
                      },
                      "4": {
                        "text": "pending_manual_operation (4)",
                        "index": 3
                      },
                      "5": {
                        "text": "send_back (5)",
                        "index": 4
                      },
                      "10": {
                        "text": "on_chain (10)",
                        "index": 5
                      }
                    }
                  }
                ]
              }
            ]
          },
          {
            "matcher": {
              "id": "byName",
              "options": "Time in status"
            },
            "properties": [
              {
                "id": "custom.cellOptions",
                "value": {
                  "type": "color-background",
                  "mode": "basic"
                }
              }
            ]
          },
          {
            "matcher": {
              "id": "byName",
              "options": "Intent"
            },
            "properties": [
              {
                "id": "custom.width",
                "value": 240
              }
            ]
          }
        ]
      },
      "options": {
        "showHeader": true,
        "cellHeight": "sm",
        "footer": {
          "show": false,
          "reducer": [
            "sum"
          ],
          "countRows": false,
          "fields": ""
        },
        "sortBy": [
          {
            "displayName": "Time in status",
            "desc": true
          }
        ]
      },
      "id": 11
    },
    {
      "type": "bargauge",
      "title": "Longest wait per status (every per_intent_metrics mode)",
      "description": "How long the longest-waiting non-terminal intent has been in each status, per status, from the per-store aggregate allscale_checkout_oldest_status_change_timestamp_seconds: works also for stores that export no per-intent series (per_intent_metrics status_only or none), where the stuck-intents table stays empty.",
      "datasource": {
        "type": "prometheus",
        "uid": "${datasource}"
      },
      "gridPos": {
        "x": 18,
        "y": 17,
        "w": 6,
        "h": 11
      },
      "targets": [
        {
          "datasource": {
            "type": "prometheus",
            "uid": "${datasource}"
          },
          "refId": "A",
          "expr": "max by (status) (time() - allscale_checkout_oldest_status_change_timestamp_seconds{job=~\"$job\",instance=~\"$instance\",store=~\"$store\"})",
          "legendFormat": "{{status}}",
          "range": false,
          "instant": true,
          "editorMode": "code"
        }
      ],
      "fieldConfig": {
        "defaults": {
          "unit": "s",
          "decimals": 0,
          "min": 0,
          "color": {
            "mode": "fixed",
            "fixedColor": "blue"
          },
          "thresholds": {
            "mode": "absolute",
            "steps": [
              {
                "color": "blue",
                "value": null
              }
            ]
          },
          "mappings": []
        },
        "overrides": []
      },
      "options": {
        "orientation": "horizontal",
        "displayMode": "basic",
        "showUnfilled": true,
        "valueMode": "color",
        "namePlacement": "auto",
        "sizing": "auto",
        "minVizHeight": 10,
        "minVizWidth": 0,
        "maxVizHeight": 300,
        "reduceOptions": {
          "calcs": [
            "lastNotNull"
          ],
          "fields": "",
          "values": false
        }
      },
      "id": 42
    },
    {
      "type": "row",
      "title": "AllScale API",
      "collapsed": false,
      "panels": [],
      "gridPos": {
        "h": 1,
        "w": 24,
        "x": 0,
        "y": 28
      },
      "id": 12
    },
    {
      "type": "timeseries",
      "title": "API latency p50 / p95 / p99",
      "description": "Status request latency quantiles (allscale_api_request_duration_seconds{endpoint=\"status\"}; the detail requests are on the Revenue row), from sending the request to having read the whole answer, over the selected stores.",
      "datasource": {
        "type": "prometheus",
        "uid": "${datasource}"
      },
      "gridPos": {
        "x": 0,
        "y": 29,
        "w": 8,
        "h": 9
      },
      "targets": [
        {
          "datasource": {
            "type": "prometheus",
            "uid": "${datasource}"
          },
          "refId": "A",
          "expr": "histogram_quantile(0.5, sum by (le) (rate(allscale_api_request_duration_seconds_bucket{job=~\"$job\",instance=~\"$instance\",store=~\"$store\",endpoint=\"status\"}[$__rate_interval])))",
          "legendFormat": "p50",
          "range": true,
          "instant": false,
          "editorMode": "code"
        },
        {
          "datasource": {
            "type": "prometheus",
            "uid": "${datasource}"
          },
          "refId": "B",
          "expr": "histogram_quantile(0.95, sum by (le) (rate(allscale_api_request_duration_seconds_bucket{job=~\"$job\",instance=~\"$instance\",store=~\"$store\",endpoint=\"status\"}[$__rate_interval])))",
          "legendFormat": "p95",
          "range": true,
          "instant": false,
          "editorMode": "code"
        },
        {
          "datasource": {
            "type": "prometheus",
            "uid": "${datasource}"
          },
          "refId": "C",
          "expr": "histogram_quantile(0.99, sum by (le) (rate(allscale_api_request_duration_seconds_bucket{job=~\"$job\",instance=~\"$instance\",store=~\"$store\",endpoint=\"status\"}[$__rate_interval])))",
          "legendFormat": "p99",
          "range": true,
          "instant": false,
          "editorMode": "code"
        }
      ],
      "fieldConfig": {
        "defaults": {
          "unit": "s",
          "custom": {
            "drawStyle": "line",
            "lineWidth": 1,
            "fillOpacity": 10,
            "showPoints": "never",
            "spanNulls": false,
            "stacking": {
              "mode": "none",
              "group": "A"
            },
            "axisSoftMin": 0
          },
          "color": {
            "mode": "palette-classic"
          },
          "thresholds": {
            "mode": "absolute",
            "steps": [
              {
                "color": "green",
                "value": null
              }
            ]
          },
          "mappings": []
        },
        "overrides": []
      },
      "options": {
        "legend": {
          "displayMode": "table",
          "placement": "right",
          "showLegend": true,
          "calcs": [
            "lastNotNull",
            "max"
          ]
        },
        "tooltip": {
          "mode": "multi",
          "sort": "desc"
        }
      },
      "id": 13
    },
    {
      "type": "timeseries",
      "title": "API requests by result",
      "description": "Requests per second by result: ok; api_error (the API answered an error code, see the next panel); http_error, timeout, connect_error, decode_error, bad_response_signature (no usable answer).",
      "datasource": {
        "type": "prometheus",
        "uid": "${datasource}"
      },
      "gridPos": {
        "x": 8,
        "y": 29,
        "w": 8,
        "h": 9
      },
      "targets": [
        {
          "datasource": {
            "type": "prometheus",
            "uid": "${datasource}"
          },
          "refId": "A",
          "expr": "sum by (result) (rate(allscale_api_requests_total{job=~\"$job\",instance=~\"$instance\",store=~\"$store\"}[$__rate_interval]))",
          "legendFormat": "{{result}}",
          "range": true,
          "instant": false,
          "editorMode": "code"
        }
      ],
      "fieldConfig": {
        "defaults": {
          "unit": "reqps",
          "custom": {
            "drawStyle": "line",
            "lineWidth": 1,
            "fillOpacity": 60,
            "showPoints": "never",
            "spanNulls": false,
            "stacking": {
              "mode": "normal",
              "group": "A"
            },
            "axisSoftMin": 0
          },
          "color": {
            "mode": "palette-classic"
          },
          "thresholds": {
            "mode": "absolute",
            "steps": [
              {
                "color": "green",
                "value": null
              }
            ]
          },
          "mappings": []
        },
        "overrides": [
          {
            "matcher": {
              "id": "byName",
              "options": "ok"
            },
            "properties": [
              {
                "id": "color",
                "value": {
                  "mode": "fixed",
                  "fixedColor": "green"
                }
              }
            ]
          }
        ]
      },
      "options": {
        "legend": {
          "displayMode": "table",
          "placement": "right",
          "showLegend": true,
          "calcs": [
            "lastNotNull",
            "max"
          ]
        },
        "tooltip": {
          "mode": "multi",
          "sort": "desc"
        }
      },
      "id": 14
    },
    {
      "type": "timeseries",
      "title": "API error codes",
      "description": "API error answers per second by envelope code: 10001 validation, 20001/20002 authentication, 30001 forbidden, 40001 rate limited, 50001 not found, 90000/99999 server errors.",
      "datasource": {
        "type": "prometheus",
        "uid": "${datasource}"
      },
      "gridPos": {
        "x": 16,
        "y": 29,
        "w": 8,
        "h": 9
      },
      "targets": [
        {
          "datasource": {
            "type": "prometheus",
            "uid": "${datasource}"
          },
          "refId": "A",
          "expr": "sum by (code) (rate(allscale_api_errors_total{job=~\"$job\",instance=~\"$instance\",store=~\"$store\"}[$__rate_interval]))",
          "legendFormat": "{{code}}",
          "range": true,
          "instant": false,
          "editorMode": "code"
        }
      ],
      "fieldConfig": {
        "defaults": {
          "unit": "reqps",
          "custom": {
            "drawStyle": "line",
            "lineWidth": 1,
            "fillOpacity": 60,
            "showPoints": "never",
            "spanNulls": false,
            "stacking": {
              "mode": "normal",
              "group": "A"
            },
            "axisSoftMin": 0
          },
          "color": {
            "mode": "palette-classic"
          },
          "thresholds": {
            "mode": "absolute",
            "steps": [
              {
                "color": "green",
                "value": null
              }
            ]
          },
          "mappings": []
        },
        "overrides": []
      },
      "options": {
        "legend": {
          "displayMode": "table",
          "placement": "right",
          "showLegend": true,
          "calcs": [
            "lastNotNull",
            "max"
          ]
        },
        "tooltip": {
          "mode": "multi",
          "sort": "desc"
        }
      },
      "id": 15
    },
    {
      "type": "timeseries",
      "title": "Request rate vs budget",
      "description": "Requests per second per store against the budget (the $rate_budget variable: set it to the store's max_requests_per_second), and the 40001 rate-limit answers of the API.",
      "datasource": {
        "type": "prometheus",
        "uid": "${datasource}"
      },
      "gridPos": {
        "x": 0,
        "y": 38,
        "w": 12,
        "h": 9
      },
      "targets": [
        {
          "datasource": {
            "type": "prometheus",
            "uid": "${datasource}"
          },
          "refId": "A",
          "expr": "sum by (store) (rate(allscale_api_requests_total{job=~\"$job\",instance=~\"$instance\",store=~\"$store\"}[$__rate_interval]))",
          "legendFormat": "{{store}}",
          "range": true,
          "instant": false,
          "editorMode": "code"
        },
        {
          "datasource": {
            "type": "prometheus",
            "uid": "${datasource}"
          },
          "refId": "B",
          "expr": "vector($rate_budget)",
          "legendFormat": "budget",
          "range": true,
          "instant": false,
          "editorMode": "code"
        },
        {
          "datasource": {
            "type": "prometheus",
            "uid": "${datasource}"
          },
          "refId": "C",
          "expr": "sum by (store) (rate(allscale_api_errors_total{job=~\"$job\",instance=~\"$instance\",store=~\"$store\",code=\"40001\"}[$__rate_interval]))",
          "legendFormat": "{{store}} rate-limited (40001)",
          "range": true,
          "instant": false,
          "editorMode": "code"
        }
      ],
      "fieldConfig": {
        "defaults": {
          "unit": "reqps",
          "custom": {
            "drawStyle": "line",
            "lineWidth": 1,
            "fillOpacity": 10,
            "showPoints": "never",
            "spanNulls": false,
            "stacking": {
              "mode": "none",
              "group": "A"
            },
            "axisSoftMin": 0
          },
          "color": {
            "mode": "palette-classic"
          },
          "thresholds": {
            "mode": "absolute",
            "steps": [
              {
                "color": "green",
                "value": null
              }
            ]
          },
          "mappings": []
        },
        "overrides": [
          {
            "matcher": {
              "id": "byName",
              "options": "budget"
            },
            "properties": [
              {
                "id": "color",
                "value": {
                  "mode": "fixed",
                  "fixedColor": "red"
                }
              },
              {
                "id": "custom.lineStyle",
                "value": {
                  "fill": "dash",
                  "dash": [
                    10,
                    10
                  ]
                }
              },
              {
                "id": "custom.fillOpacity",
                "value": 0
              }
            ]
          }
        ]
      },
      "options": {
        "legend": {
          "displayMode": "table",
          "placement": "right",
          "showLegend": true,
          "calcs": [
            "lastNotNull",
            "max"
          ]
        },
        "tooltip": {
          "mode": "multi",
          "sort": "desc"
        }
      },
      "id": 16
    },
    {
      "type": "table",
      "title": "Status transitions in the time range",
      "description": "Status changes seen by the exporter during the dashboard's time range (increase of allscale_checkout_intent_transitions_total), most frequent first.",
      "datasource": {
        "type": "prometheus",
        "uid": "${datasource}"
      },
      "gridPos": {
        "x": 12,
        "y": 38,
        "w": 12,
        "h": 9
      },
      "targets": [
        {
          "datasource": {
            "type": "prometheus",
            "uid": "${datasource}"
          },
          "refId": "A",
          "expr": "sum by (from, to) (increase(allscale_checkout_intent_transitions_total{job=~\"$job\",instance=~\"$instance\",store=~\"$store\"}[$__range])) > 0",
          "legendFormat": "",
          "range": false,
          "instant": true,
          "editorMode": "code",
          "format": "table"
        }
      ],
      "transformations": [
        {
          "id": "organize",
          "options": {
            "excludeByName": {
              "Time": true
            },
            "renameByName": {
              "from": "From",
              "to": "To",
              "Value": "Transitions"
            }
          }
        }
      ],
      "fieldConfig": {
        "defaults": {
          "unit": "short",
          "decimals": 0,
          "custom": {
            "align": "auto",
            "cellOptions": {
              "type": "auto"
            },
            "inspect": false
          },
          "thresholds": {
            "mode": "absolute",
            "steps": [
              {
                "color": "green",
                "value": null
              }
            ]
          },
          "mappings": [],
          "color": {
            "mode": "thresholds"
          }
        },
        "overrides": []
      },
      "options": {
        "showHeader": true,
        "cellHeight": "sm",
        "footer": {
          "show": false,
          "reducer": [
            "sum"
          ],
          "countRows": false,
          "fields": ""
        },
        "sortBy": [
          {
            "displayName": "Transitions",
            "desc": true
          }
        ]
      },
      "id": 17
    },
    {
      "type": "row",
      "title": "Exporter health",
      "collapsed": false,
      "panels": [],
      "gridPos": {
        "h": 1,
        "w": 24,
        "x": 0,
        "y": 47
      },
      "id": 18
    },
    {
      "type": "stat",
      "title": "Exporter up",
      "description": "Whether Prometheus can scrape each exporter instance (up).",
      "datasource": {
        "type": "prometheus",
        "uid": "${datasource}"
      },
      "gridPos": {
        "x": 0,
        "y": 48,
        "w": 4,
        "h": 5
      },
      "targets": [
        {
          "datasource": {
            "type": "prometheus",
            "uid": "${datasource}"
          },
          "refId": "A",
          "expr": "up{job=~\"$job\",instance=~\"$instance\"}",
          "legendFormat": "{{instance}}",
          "range": false,
          "instant": true,
          "editorMode": "code"
        }
      ],
      "fieldConfig": {
        "defaults": {
          "unit": "none",
          "mappings": [
            {
              "type": "value",
              "options": {
                "0": {
                  "text": "DOWN",
                  "color": "red",
                  "index": 0
                },
                "1": {
                  "text": "UP",
                  "color": "green",
                  "index": 1
                }
              }
            }
          ],
          "thresholds": {
            "mode": "absolute",
            "steps": [
              {
                "color": "red",
                "value": null
              },
              {
                "color": "green",
                "value": 1
              }
            ]
          },
          "color": {
            "mode": "thresholds"
          }
        },
        "overrides": []
      },
      "options": {
        "reduceOptions": {
          "calcs": [
            "lastNotNull"
          ],
          "fields": "",
          "values": false
        },
        "orientation": "auto",
        "textMode": "auto",
        "colorMode": "background",
        "graphMode": "none",
        "justifyMode": "auto",
        "wideLayout": true,
        "showPercentChange": false
      },
      "id": 19
    },
    {
      "type": "stat",
      "title": "Config reload",
      "description": "Whether the exporter's last config (re)load succeeded (allscale_exporter_config_last_reload_successful). After a failed reload the previous config keeps running.",
      "datasource": {
        "type": "prometheus",
        "uid": "${datasource}"
      },
      "gridPos": {
        "x": 4,
        "y": 48,
        "w": 4,
        "h": 5
      },
      "targets": [
        {
          "datasource": {
            "type": "prometheus",
            "uid": "${datasource}"
          },
          "refId": "A",
          "expr": "allscale_exporter_config_last_reload_successful{job=~\"$job\",instance=~\"$instance\"}",
          "legendFormat": "{{instance}}",
          "range": false,
          "instant": true,
          "editorMode": "code"
        }
      ],
      "fieldConfig": {
        "defaults": {
          "unit": "none",
          "mappings": [
            {
              "type": "value",
              "options": {
                "0": {
                  "text": "FAILED",
                  "color": "red",
                  "index": 0
                },
                "1": {
                  "text": "OK",
                  "color": "green",
                  "index": 1
                }
              }
            }
          ],
          "thresholds": {
            "mode": "absolute",
            "steps": [
              {
                "color": "red",
                "value": null
              },
              {
                "color": "green",
                "value": 1
              }
            ]
          },
          "color": {
            "mode": "thresholds"
          }
        },
        "overrides": []
      },
      "options": {
        "reduceOptions": {
          "calcs": [
            "lastNotNull"
          ],
          "fields": "",
          "values": false
        },
        "orientation": "auto",
        "textMode": "auto",
        "colorMode": "background",
        "graphMode": "none",
        "justifyMode": "auto",
        "wideLayout": true,
        "showPercentChange": false
      },
      "id": 20
    },
    {
      "type": "stat",
      "title": "AllScale API up",
      "description": "Per store: 1 when the latest request got a well-formed answer that was not an auth failure or a server error (allscale_api_up).",
      "datasource": {
        "type": "prometheus",
        "uid": "${datasource}"
      },
      "gridPos": {
        "x": 8,
        "y": 48,
        "w": 4,
        "h": 5
      },
      "targets": [
        {
          "datasource": {
            "type": "prometheus",
            "uid": "${datasource}"
          },
          "refId": "A",
          "expr": "min by (store) (allscale_api_up{job=~\"$job\",instance=~\"$instance\",store=~\"$store\"})",
          "legendFormat": "{{store}}",
          "range": false,
          "instant": true,
          "editorMode": "code"
        }
      ],
      "fieldConfig": {
        "defaults": {
          "unit": "none",
          "mappings": [
            {
              "type": "value",
              "options": {
                "0": {
                  "text": "DOWN",
                  "color": "red",
                  "index": 0
                },
                "1": {
                  "text": "UP",
                  "color": "green",
                  "index": 1
                }
              }
            }
          ],
          "thresholds": {
            "mode": "absolute",
            "steps": [
              {
                "color": "red",
                "value": null
              },
              {
                "color": "green",
                "value": 1
              }
            ]
          },
          "color": {
            "mode": "thresholds"
          }
        },
        "overrides": []
      },
      "options": {
        "reduceOptions": {
          "calcs": [
            "lastNotNull"
          ],
          "fields": "",
          "values": false
        },
        "orientation": "auto",
        "textMode": "auto",
        "colorMode": "background",
        "graphMode": "none",
        "justifyMode": "auto",
        "wideLayout": true,
        "showPercentChange": false
      },
      "id": 21
    },
    {
      "type": "stat",
      "title": "Watched intents by store",
      "description": "Intents in each store's watch list (allscale_exporter_watched_intents).",
      "datasource": {
        "type": "prometheus",
        "uid": "${datasource}"
      },
      "gridPos": {
        "x": 12,
        "y": 48,
        "w": 4,
        "h": 5
      },
      "targets": [
        {
          "datasource": {
            "type": "prometheus",
            "uid": "${datasource}"
          },
          "refId": "A",
          "expr": "sum by (store) (allscale_exporter_watched_intents{job=~\"$job\",instance=~\"$instance\",store=~\"$store\"})",
          "legendFormat": "{{store}}",
          "range": false,
          "instant": true,
          "editorMode": "code"
        }
      ],
      "fieldConfig": {
        "defaults": {
          "unit": "short",
          "mappings": [],
          "thresholds": {
            "mode": "absolute",
            "steps": [
              {
                "color": "green",
                "value": null
              }
            ]
          },
          "color": {
            "mode": "thresholds"
          },
          "decimals": 0
        },
        "overrides": []
      },
      "options": {
        "reduceOptions": {
          "calcs": [
            "lastNotNull"
          ],
          "fields": "",
          "values": false
        },
        "orientation": "auto",
        "textMode": "auto",
        "colorMode": "value",
        "graphMode": "none",
        "justifyMode": "auto",
        "wideLayout": true,
        "showPercentChange": false
      },
      "id": 22
    },
    {
      "type": "stat",
      "title": "Since last successful poll",
      "description": "Per store, time since the most recent successful status poll of any intent (allscale_checkout_intent_last_success_timestamp_seconds). Grows while every request fails, or when every intent is terminal (nothing left to poll).",
      "datasource": {
        "type": "prometheus",
        "uid": "${datasource}"
      },
      "gridPos": {
        "x": 16,
        "y": 48,
        "w": 4,
        "h": 5
      },
      "targets": [
        {
          "datasource": {
            "type": "prometheus",
            "uid": "${datasource}"
          },
          "refId": "A",
          "expr": "time() - max by (store) (allscale_checkout_intent_last_success_timestamp_seconds{job=~\"$job\",instance=~\"$instance\",store=~\"$store\"})",
          "legendFormat": "{{store}}",
          "range": false,
          "instant": true,
          "editorMode": "code"
        }
      ],
      "fieldConfig": {
        "defaults": {
          "unit": "s",
          "mappings": [],
          "thresholds": {
            "mode": "absolute",
            "steps": [
              {
                "color": "green",
                "value": null
              },
              {
                "color": "orange",
                "value": 300
              },
              {
                "color": "red",
                "value": 900
              }
            ]
          },
          "color": {
            "mode": "thresholds"
          },
          "decimals": 0
        },
        "overrides": []
      },
      "options": {
        "reduceOptions": {
          "calcs": [
            "lastNotNull"
          ],
          "fields": "",
          "values": false
        },
        "orientation": "auto",
        "textMode": "auto",
        "colorMode": "value",
        "graphMode": "none",
        "justifyMode": "auto",
        "wideLayout": true,
        "showPercentChange": false
      },
      "id": 23
    },
    {
      "type": "stat",
      "title": "Config loaded",
      "description": "Time since the last successful config load (allscale_exporter_config_last_reload_success_timestamp_seconds).",
      "datasource": {
        "type": "prometheus",
        "uid": "${datasource}"
      },
      "gridPos": {
        "x": 20,
        "y": 48,
        "w": 4,
        "h": 5
      },
      "targets": [
        {
          "datasource": {
            "type": "prometheus",
            "uid": "${datasource}"
          },
          "refId": "A",
          "expr": "time() - allscale_exporter_config_last_reload_success_timestamp_seconds{job=~\"$job\",instance=~\"$instance\"}",
          "legendFormat": "{{instance}}",
          "range": false,
          "instant": true,
          "editorMode": "code"
        }
      ],
      "fieldConfig": {
        "defaults": {
          "unit": "s",
          "mappings": [],
          "thresholds": {
            "mode": "absolute",
            "steps": [
              {
                "color": "green",
                "value": null
              }
            ]
          },
          "color": {
            "mode": "thresholds"
          },
          "decimals": 0
        },
        "overrides": []
      },
      "options": {
        "reduceOptions": {
          "calcs": [
            "lastNotNull"
          ],
          "fields": "",
          "values": false
        },
        "orientation": "auto",
        "textMode": "auto",
        "colorMode": "value",
        "graphMode": "none",
        "justifyMode": "auto",
        "wideLayout": true,
        "showPercentChange": false
      },
      "id": 24
    },
    {
      "type": "row",
      "title": "Webhooks",
      "collapsed": false,
      "panels": [],
      "gridPos": {
        "h": 1,
        "w": 24,
        "x": 0,
        "y": 53
      },
      "id": 25
    },
    {
      "type": "timeseries",
      "title": "Webhooks received by result",
      "description": "AllScale webhooks (POST /webhooks/allscale) per second by result (rate of allscale_webhook_requests_total): ok (verified and queued); bad_signature (does not verify with the store's API secret: a rotated secret); unknown_key (the X-API-Key matches no store; counted under store \"unknown\", always shown here); stale_timestamp (more than 5 minutes off: a clock); replayed_nonce; malformed; too_large; body_timeout (the body arrived slower than --web.read-body-timeout); queue_full (the forward queue is full: answered 503, AllScale retries).",
      "datasource": {
        "type": "prometheus",
        "uid": "${datasource}"
      },
      "gridPos": {
        "x": 0,
        "y": 54,
        "w": 8,
        "h": 9
      },
      "targets": [
        {
          "datasource": {
            "type": "prometheus",
            "uid": "${datasource}"
          },
          "refId": "A",
          "expr": "sum by (result) (rate(allscale_webhook_requests_total{job=~\"$job\",instance=~\"$instance\",store=~\"$store|unknown\"}[$__rate_interval]))",
          "legendFormat": "{{result}}",
          "range": true,
          "instant": false,
          "editorMode": "code"
        }
      ],
      "fieldConfig": {
        "defaults": {
          "unit": "reqps",
          "custom": {
            "drawStyle": "line",
            "lineWidth": 1,
            "fillOpacity": 60,
            "showPoints": "never",
            "spanNulls": false,
            "stacking": {
              "mode": "normal",
              "group": "A"
            },
            "axisSoftMin": 0
          },
          "color": {
            "mode": "palette-classic"
          },
          "thresholds": {
            "mode": "absolute",
            "steps": [
              {
                "color": "green",
                "value": null
              }
            ]
          },
          "mappings": []
        },
        "overrides": [
          {
            "matcher": {
              "id": "byName",
              "options": "ok"
            },
            "properties": [
              {
                "id": "color",
                "value": {
                  "mode": "fixed",
                  "fixedColor": "green"
                }
              }
            ]
          },
          {
            "matcher": {
              "id": "byName",
              "options": "bad_signature"
            },
            "properties": [
              {
                "id": "color",
                "value": {
                  "mode": "fixed",
                  "fixedColor": "red"
                }
              }
            ]
          },
          {
            "matcher": {
              "id": "byName",
              "options": "unknown_key"
            },
            "properties": [
              {
                "id": "color",
                "value": {
                  "mode": "fixed",
                  "fixedColor": "dark-red"
                }
              }
            ]
          },
          {
            "matcher": {
              "id": "byName",
              "options": "queue_full"
            },
            "properties": [
              {
                "id": "color",
                "value": {
                  "mode": "fixed",
                  "fixedColor": "orange"
                }
              }
            ]
          }
        ]
      },
      "options": {
        "legend": {
          "displayMode": "table",
          "placement": "right",
          "showLegend": true,
          "calcs": [
            "lastNotNull",
            "max"
          ]
        },
        "tooltip": {
          "mode": "multi",
          "sort": "desc"
        }
      },
      "id": 26
    },
    {
      "type": "timeseries",
      "title": "Confirmations by source",
      "description": "Intents confirmed per minute, by which saw the confirmation first (rate of allscale_checkout_intent_confirmations_total over $__rate_interval, times 60; each intent counted once): webhook, or poll (the status poll saw CONFIRMED before any webhook). With webhooks working almost all are webhook; a growing poll share means webhooks arrive late or not at all.",
      "datasource": {
        "type": "prometheus",
        "uid": "${datasource}"
      },
      "gridPos": {
        "x": 8,
        "y": 54,
        "w": 8,
        "h": 9
      },
      "targets": [
        {
          "datasource": {
            "type": "prometheus",
            "uid": "${datasource}"
          },
          "refId": "A",
          "expr": "sum by (source) (rate(allscale_checkout_intent_confirmations_total{job=~\"$job\",instance=~\"$instance\",store=~\"$store\"}[$__rate_interval])) * 60",
          "legendFormat": "{{source}}",
          "range": true,
          "instant": false,
          "editorMode": "code"
        }
      ],
      "fieldConfig": {
        "defaults": {
          "unit": "cpm",
          "custom": {
            "drawStyle": "bars",
            "lineWidth": 1,
            "fillOpacity": 60,
            "showPoints": "never",
            "spanNulls": false,
            "stacking": {
              "mode": "normal",
              "group": "A"
            },
            "axisSoftMin": 0
          },
          "color": {
            "mode": "palette-classic"
          },
          "thresholds": {
            "mode": "absolute",
            "steps": [
              {
                "color": "green",
                "value": null
              }
            ]
          },
          "mappings": []
        },
        "overrides": [
          {
            "matcher": {
              "id": "byName",
              "options": "webhook"
            },
            "properties": [
              {
                "id": "color",
                "value": {
                  "mode": "fixed",
                  "fixedColor": "green"
                }
              }
            ]
          },
          {
            "matcher": {
              "id": "byName",
              "options": "poll"
            },
            "properties": [
              {
                "id": "color",
                "value": {
                  "mode": "fixed",
                  "fixedColor": "orange"
                }
              }
            ]
          }
        ]
      },
      "options": {
        "legend": {
          "displayMode": "table",
          "placement": "right",
          "showLegend": true,
          "calcs": [
            "lastNotNull",
            "max"
          ]
        },
        "tooltip": {
          "mode": "multi",
          "sort": "desc"
        }
      },
      "id": 27
    },
    {
      "type": "stat",
      "title": "Since last verified webhook",
      "description": "Per store, time since the last webhook that verified (allscale_webhook_last_received_timestamp_seconds). No value for a store that has not received one since the exporter started. A long time is normal for a quiet store; with confirmations by poll meanwhile, webhooks are not arriving (the webhook URL in AllScale's dashboard, the ingress, the secret).",
      "datasource": {
        "type": "prometheus",
        "uid": "${datasource}"
      },
      "gridPos": {
        "x": 16,
        "y": 54,
        "w": 8,
        "h": 5
      },
      "targets": [
        {
          "datasource": {
            "type": "prometheus",
            "uid": "${datasource}"
          },
          "refId": "A",
          "expr": "time() - max by (store) (allscale_webhook_last_received_timestamp_seconds{job=~\"$job\",instance=~\"$instance\",store=~\"$store\"})",
          "legendFormat": "{{store}}",
          "range": false,
          "instant": true,
          "editorMode": "code"
        }
      ],
      "fieldConfig": {
        "defaults": {
          "unit": "s",
          "mappings": [],
          "thresholds": {
            "mode": "absolute",
            "steps": [
              {
                "color": "green",
                "value": null
              },
              {
                "color": "orange",
                "value": 3600
              }
            ]
          },
          "color": {
            "mode": "thresholds"
          },
          "decimals": 0
        },
        "overrides": []
      },
      "options": {
        "reduceOptions": {
          "calcs": [
            "lastNotNull"
          ],
          "fields": "",
          "values": false
        },
        "orientation": "auto",
        "textMode": "auto",
        "colorMode": "value",
        "graphMode": "none",
        "justifyMode": "auto",
        "wideLayout": true,
        "showPercentChange": false
      },
      "id": 28
    },
    {
      "type": "stat",
      "title": "Missing webhooks in the time range",
      "description": "Per store with webhook.expected: true, intents that polling saw CONFIRMED with no webhook within webhook.grace, during the dashboard's time range (increase of allscale_checkout_intent_webhook_missing_total). Each is a paid order the merchant's fulfilment was not told about (alert AllScaleWebhookMissing).",
      "datasource": {
        "type": "prometheus",
        "uid": "${datasource}"
      },
      "gridPos": {
        "x": 16,
        "y": 59,
        "w": 8,
        "h": 4
      },
      "targets": [
        {
          "datasource": {
            "type": "prometheus",
            "uid": "${datasource}"
          },
          "refId": "A",
          "expr": "sum by (store) (increase(allscale_checkout_intent_webhook_missing_total{job=~\"$job\",instance=~\"$instance\",store=~\"$store\"}[$__range]))",
          "legendFormat": "{{store}}",
          "range": false,
          "instant": true,
          "editorMode": "code"
        }
      ],
      "fieldConfig": {
        "defaults": {
          "unit": "short",
          "mappings": [],
          "thresholds": {
            "mode": "absolute",
            "steps": [
              {
                "color": "green",
                "value": null
              },
              {
                "color": "red",
                "value": 1
              }
            ]
          },
          "color": {
            "mode": "thresholds"
          },
          "decimals": 0
        },
        "overrides": []
      },
      "options": {
        "reduceOptions": {
          "calcs": [
            "lastNotNull"
          ],
          "fields": "",
          "values": false
        },
        "orientation": "auto",
        "textMode": "value_and_name",
        "colorMode": "background",
        "graphMode": "none",
        "justifyMode": "auto",
        "wideLayout": true,
        "showPercentChange": false
      },
      "id": 29
    },
    {
      "type": "timeseries",
      "title": "Forwards to the backend by result",
      "description": "Attempts per second to forward verified webhooks to the store's webhook.forward_url, by result (rate of allscale_webhook_forward_total): ok; http_error (the backend answered non-2xx); connect_error; timeout. Failed attempts are retried with backoff.",
      "datasource": {
        "type": "prometheus",
        "uid": "${datasource}"
      },
      "gridPos": {
        "x": 0,
        "y": 63,
        "w": 8,
        "h": 9
      },
      "targets": [
        {
          "datasource": {
            "type": "prometheus",
            "uid": "${datasource}"
          },
          "refId": "A",
          "expr": "sum by (result) (rate(allscale_webhook_forward_total{job=~\"$job\",instance=~\"$instance\",store=~\"$store\"}[$__rate_interval]))",
          "legendFormat": "{{result}}",
          "range": true,
          "instant": false,
          "editorMode": "code"
        }
      ],
      "fieldConfig": {
        "defaults": {
          "unit": "reqps",
          "custom": {
            "drawStyle": "line",
            "lineWidth": 1,
            "fillOpacity": 60,
            "showPoints": "never",
            "spanNulls": false,
            "stacking": {
              "mode": "normal",
              "group": "A"
            },
            "axisSoftMin": 0
          },
          "color": {
            "mode": "palette-classic"
          },
          "thresholds": {
            "mode": "absolute",
            "steps": [
              {
                "color": "green",
                "value": null
              }
            ]
          },
          "mappings": []
        },
        "overrides": [
          {
            "matcher": {
              "id": "byName",
              "options": "ok"
            },
            "properties": [
              {
                "id": "color",
                "value": {
                  "mode": "fixed",
                  "fixedColor": "green"
                }
              }
            ]
          },
          {
            "matcher": {
              "id": "byName",
              "options": "http_error"
            },
            "properties": [
              {
                "id": "color",
                "value": {
                  "mode": "fixed",
                  "fixedColor": "red"
                }
              }
            ]
          },
          {
            "matcher": {
              "id": "byName",
              "options": "connect_error"
            },
            "properties": [
              {
                "id": "color",
                "value": {
                  "mode": "fixed",
                  "fixedColor": "dark-red"
                }
              }
            ]
          },
          {
            "matcher": {
              "id": "byName",
              "options": "timeout"
            },
            "properties": [
              {
                "id": "color",
                "value": {
                  "mode": "fixed",
                  "fixedColor": "orange"
                }
              }
            ]
          }
        ]
      },
      "options": {
        "legend": {
          "displayMode": "table",
          "placement": "right",
          "showLegend": true,
          "calcs": [
            "lastNotNull",
            "max"
          ]
        },
        "tooltip": {
          "mode": "multi",
          "sort": "desc"
        }
      },
      "id": 30
    },
    {
      "type": "timeseries",
      "title": "Forward queue",
      "description": "Per store, webhook events waiting to be forwarded to the merchant's backend (allscale_webhook_forward_queue; the largest over the selected jobs' instances). The dashed line is AllScaleWebhookQueueBacklog's threshold (100); when the queue reaches its bound, new webhooks are answered 503 (queue_full).",
      "datasource": {
        "type": "prometheus",
        "uid": "${datasource}"
      },
      "gridPos": {
        "x": 8,
        "y": 63,
        "w": 8,
        "h": 9
      },
      "targets": [
        {
          "datasource": {
            "type": "prometheus",
            "uid": "${datasource}"
          },
          "refId": "A",
          "expr": "max by (store) (allscale_webhook_forward_queue{job=~\"$job\",instance=~\"$instance\",store=~\"$store\"})",
          "legendFormat": "{{store}}",
          "range": true,
          "instant": false,
          "editorMode": "code"
        }
      ],
      "fieldConfig": {
        "defaults": {
          "unit": "short",
          "custom": {
            "drawStyle": "line",
            "lineWidth": 1,
            "fillOpacity": 10,
            "showPoints": "never",
            "spanNulls": false,
            "stacking": {
              "mode": "none",
              "group": "A"
            },
            "axisSoftMin": 0,
            "thresholdsStyle": {
              "mode": "dashed"
            }
          },
          "color": {
            "mode": "palette-classic"
          },
          "thresholds": {
            "mode": "absolute",
            "steps": [
              {
                "color": "green",
                "value": null
              },
              {
                "color": "red",
                "value": 100
              }
            ]
          },
          "mappings": []
        },
        "overrides": []
      },
      "options": {
        "legend": {
          "displayMode": "table",
          "placement": "right",
          "showLegend": true,
          "calcs": [
            "lastNotNull",
            "max"
          ]
        },
        "tooltip": {
          "mode": "multi",
          "sort": "desc"
        }
      },
      "id": 31
    },
    {
      "type": "timeseries",
      "title": "Forward lag p50 / p99",
      "description": "Per store, time from receiving a webhook to forwarding it successfully to the backend, p50 and p99 (histogram_quantile over the rate of allscale_webhook_forward_lag_seconds_bucket). Grows with retries and with the queue; no value while nothing was forwarded.",
      "datasource": {
        "type": "prometheus",
        "uid": "${datasource}"
      },
      "gridPos": {
        "x": 16,
        "y": 63,
        "w": 8,
        "h": 9
      },
      "targets": [
        {
          "datasource": {
            "type": "prometheus",
            "uid": "${datasource}"
          },
          "refId": "A",
          "expr": "histogram_quantile(0.5, sum by (store, le) (rate(allscale_webhook_forward_lag_seconds_bucket{job=~\"$job\",instance=~\"$instance\",store=~\"$store\"}[$__rate_interval])))",
          "legendFormat": "{{store}} p50",
          "range": true,
          "instant": false,
          "editorMode": "code"
        },
        {
          "datasource": {
            "type": "prometheus",
            "uid": "${datasource}"
          },
          "refId": "B",
          "expr": "histogram_quantile(0.99, sum by (store, le) (rate(allscale_webhook_forward_lag_seconds_bucket{job=~\"$job\",instance=~\"$instance\",store=~\"$store\"}[$__rate_interval])))",
          "legendFormat": "{{store}} p99",
          "range": true,
          "instant": false,
          "editorMode": "code"
        }
      ],
      "fieldConfig": {
        "defaults": {
          "unit": "s",
          "custom": {
            "drawStyle": "line",
            "lineWidth": 1,
            "fillOpacity": 10,
            "showPoints": "never",
            "spanNulls": false,
            "stacking": {
              "mode": "none",
              "group": "A"
            },
            "axisSoftMin": 0
          },
          "color": {
            "mode": "palette-classic"
          },
          "thresholds": {
            "mode": "absolute",
            "steps": [
              {
                "color": "green",
                "value": null
              }
            ]
          },
          "mappings": []
        },
        "overrides": []
      },
      "options": {
        "legend": {
          "displayMode": "table",
          "placement": "right",
          "showLegend": true,
          "calcs": [
            "lastNotNull",
            "max"
          ]
        },
        "tooltip": {
          "mode": "multi",
          "sort": "desc"
        }
      },
      "id": 32
    },
    {
      "type": "row",
      "title": "Revenue",
      "collapsed": false,
      "panels": [],
      "gridPos": {
        "h": 1,
        "w": 24,
        "x": 0,
        "y": 72
      },
      "id": 33
    },
    {
      "type": "table",
      "title": "Confirmed amount by coin and chain in the time range",
      "description": "Per coin and chain (the EIP-155 chain id), the amount requested and the amount actually paid by the checkout intents that ended CONFIRMED during the dashboard's time range (increase of allscale_checkout_amount_coins_total and allscale_checkout_paid_coins_total, outcome=\"confirmed\"), in coins. Each intent counts once, when its detail is fetched after it ended. coin and chain keep 16 values per store, the rest is counted as \"other\". A coin or chain seen for the first time starts its series at its first amount, which increase() does not count.",
      "datasource": {
        "type": "prometheus",
        "uid": "${datasource}"
      },
      "gridPos": {
        "x": 0,
        "y": 73,
        "w": 12,
        "h": 9
      },
      "targets": [
        {
          "datasource": {
            "type": "prometheus",
            "uid": "${datasource}"
          },
          "refId": "A",
          "expr": "sum by (coin, chain) (increase(allscale_checkout_amount_coins_total{job=~\"$job\",instance=~\"$instance\",store=~\"$store\",outcome=\"confirmed\"}[$__range]))",
          "legendFormat": "",
          "range": false,
          "instant": true,
          "editorMode": "code",
          "format": "table"
        },
        {
          "datasource": {
            "type": "prometheus",
            "uid": "${datasource}"
          },
          "refId": "B",
          "expr": "sum by (coin, chain) (increase(allscale_checkout_paid_coins_total{job=~\"$job\",instance=~\"$instance\",store=~\"$store\",outcome=\"confirmed\"}[$__range]))",
          "legendFormat": "",
          "range": false,
          "instant": true,
          "editorMode": "code",
          "format": "table"
        }
      ],
      "transformations": [
        {
          "id": "merge",
          "options": {}
        },
        {
          "id": "organize",
          "options": {
            "excludeByName": {
              "Time": true
            },
            "renameByName": {
              "coin": "Coin",
              "chain": "Chain",
              "Value #A": "Requested",
              "Value #B": "Paid"
            }
          }
        }
      ],
      "fieldConfig": {
        "defaults": {
          "unit": "short",
          "custom": {
            "align": "auto",
            "cellOptions": {
              "type": "auto"
            },
            "inspect": false
          },
          "thresholds": {
            "mode": "absolute",
            "steps": [
              {
                "color": "green",
                "value": null
              }
            ]
          },
          "mappings": [],
          "color": {
            "mode": "thresholds"
          }
        },
        "overrides": []
      },
      "options": {
        "showHeader": true,
        "cellHeight": "sm",
        "footer": {
          "show": false,
          "reducer": [
            "sum"
          ],
          "countRows": false,
          "fields": ""
        },
        "sortBy": [
          {
            "displayName": "Paid",
            "desc": true
          }
        ]
      },
      "id": 34
    },
    {
      "type": "timeseries",
      "title": "Paid per hour by coin",
      "description": "Coins paid per hour by the intents that ended CONFIRMED, by coin, all chains together (rate of allscale_checkout_paid_coins_total{outcome=\"confirmed\"} over $__rate_interval, times 3600). Counted when the intent's detail is fetched after it ended, so it follows confirmations, not blocks.",
      "datasource": {
        "type": "prometheus",
        "uid": "${datasource}"
      },
      "gridPos": {
        "x": 12,
        "y": 73,
        "w": 12,
        "h": 9
      },
      "targets": [
        {
          "datasource": {
            "type": "prometheus",
            "uid": "${datasource}"
          },
          "refId": "A",
          "expr": "sum by (coin) (rate(allscale_checkout_paid_coins_total{job=~\"$job\",instance=~\"$instance\",store=~\"$store\",outcome=\"confirmed\"}[$__rate_interval])) * 3600",
          "legendFormat": "{{coin}}",
          "range": true,
          "instant": false,
          "editorMode": "code"
        }
      ],
      "fieldConfig": {
        "defaults": {
          "unit": "short",
          "custom": {
            "drawStyle": "line",
            "lineWidth": 1,
            "fillOpacity": 10,
            "showPoints": "never",
            "spanNulls": false,
            "stacking": {
              "mode": "none",
              "group": "A"
            },
            "axisSoftMin": 0
          },
          "color": {
            "mode": "palette-classic"
          },
          "thresholds": {
            "mode": "absolute",
            "steps": [
              {
                "color": "green",
                "value": null
              }
            ]
          },
          "mappings": []
        },
        "overrides": []
      },
      "options": {
        "legend": {
          "displayMode": "table",
          "placement": "right",
          "showLegend": true,
          "calcs": [
            "lastNotNull",
            "max"
          ]
        },
        "tooltip": {
          "mode": "multi",
          "sort": "desc"
        }
      },
      "id": 35
    },
    {
      "type": "table",
      "title": "Shortfall by coin and chain in the time range",
      "description": "Coins requested but not paid, per coin and chain, during the dashboard's time range (increase of allscale_checkout_shortfall_coins_total): underpaid intents and confirmed intents that came in short. Alert AllScaleCheckoutShortfall warns above 100 coins per store and coin in an hour (a placeholder, tunable per coin).",
      "datasource": {
        "type": "prometheus",
        "uid": "${datasource}"
      },
      "gridPos": {
        "x": 0,
        "y": 82,
        "w": 8,
        "h": 9
      },
      "targets": [
        {
          "datasource": {
            "type": "prometheus",
            "uid": "${datasource}"
          },
          "refId": "A",
          "expr": "sum by (coin, chain) (increase(allscale_checkout_shortfall_coins_total{job=~\"$job\",instance=~\"$instance\",store=~\"$store\"}[$__range]))",
          "legendFormat": "",
          "range": false,
          "instant": true,
          "editorMode": "code",
          "format": "table"
        }
      ],
      "transformations": [
        {
          "id": "organize",
          "options": {
            "excludeByName": {
              "Time": true
            },
            "renameByName": {
              "coin": "Coin",
              "chain": "Chain",
              "Value": "Shortfall"
            }
          }
        }
      ],
      "fieldConfig": {
        "defaults": {
          "unit": "short",
          "custom": {
            "align": "auto",
            "cellOptions": {
              "type": "auto"
            },
            "inspect": false
          },
          "thresholds": {
            "mode": "absolute",
            "steps": [
              {
                "color": "green",
                "value": null
              }
            ]
          },
          "mappings": [],
          "color": {
            "mode": "thresholds"
          }
        },
        "overrides": []
      },
      "options": {
        "showHeader": true,
        "cellHeight": "sm",
        "footer": {
          "show": false,
          "reducer": [
            "sum"
          ],
          "countRows": false,
          "fields": ""
        },
        "sortBy": [
          {
            "displayName": "Shortfall",
            "desc": true
          }
        ]
      },
      "id": 36
    },
    {
      "type": "table",
      "title": "Fees and net income by coin in the time range",
      "description": "Per coin, the fees AllScale took and the net income left to the merchant, from the intents that ended during the dashboard's time range (increase of allscale_checkout_fee_coins_total and allscale_checkout_net_income_coins_total), in coins.",
      "datasource": {
        "type": "prometheus",
        "uid": "${datasource}"
      },
      "gridPos": {
        "x": 8,
        "y": 82,
        "w": 8,
        "h": 9
      },
      "targets": [
        {
          "datasource": {
            "type": "prometheus",
            "uid": "${datasource}"
          },
          "refId": "A",
          "expr": "sum by (coin) (increase(allscale_checkout_fee_coins_total{job=~\"$job\",instance=~\"$instance\",store=~\"$store\"}[$__range]))",
          "legendFormat": "",
          "range": false,
          "instant": true,
          "editorMode": "code",
          "format": "table"
        },
        {
          "datasource": {
            "type": "prometheus",
            "uid": "${datasource}"
          },
          "refId": "B",
          "expr": "sum by (coin) (increase(allscale_checkout_net_income_coins_total{job=~\"$job\",instance=~\"$instance\",store=~\"$store\"}[$__range]))",
          "legendFormat": "",
          "range": false,
          "instant": true,
          "editorMode": "code",
          "format": "table"
        }
      ],
      "transformations": [
        {
          "id": "merge",
          "options": {}
        },
        {
          "id": "organize",
          "options": {
            "excludeByName": {
              "Time": true
            },
            "renameByName": {
              "coin": "Coin",
              "Value #A": "Fees",
              "Value #B": "Net income"
            }
          }
        }
      ],
      "fieldConfig": {
        "defaults": {
          "unit": "short",
          "custom": {
            "align": "auto",
            "cellOptions": {
              "type": "auto"
            },
            "inspect": false
          },
          "thresholds": {
            "mode": "absolute",
            "steps": [
              {
                "color": "green",
                "value": null
              }
            ]
          },
          "mappings": [],
          "color": {
            "mode": "thresholds"
          }
        },
        "overrides": []
      },
      "options": {
        "showHeader": true,
        "cellHeight": "sm",
        "footer": {
          "show": false,
          "reducer": [
            "sum"
          ],
          "countRows": false,
          "fields": ""
        },
        "sortBy": [
          {
            "displayName": "Net income",
            "desc": true
          }
        ]
      },
      "id": 37
    },
    {
      "type": "table",
      "title": "Fiat value by currency and outcome in the time range",
      "description": "The requested amount in fiat (the intent's amount_cents / 100) of the intents that ended during the dashboard's time range, by currency and outcome (increase of allscale_checkout_amount_fiat_total). confirmed is the fiat value sold; the others are the value of checkouts that did not go through. currency keeps 16 values per store, the rest is \"other\".",
      "datasource": {
        "type": "prometheus",
        "uid": "${datasource}"
      },
      "gridPos": {
        "x": 16,
        "y": 82,
        "w": 8,
        "h": 9
      },
      "targets": [
        {
          "datasource": {
            "type": "prometheus",
            "uid": "${datasource}"
          },
          "refId": "A",
          "expr": "sum by (currency, outcome) (increase(allscale_checkout_amount_fiat_total{job=~\"$job\",instance=~\"$instance\",store=~\"$store\"}[$__range]))",
          "legendFormat": "",
          "range": false,
          "instant": true,
          "editorMode": "code",
          "format": "table"
        }
      ],
      "transformations": [
        {
          "id": "organize",
          "options": {
            "excludeByName": {
              "Time": true
            },
            "renameByName": {
              "currency": "Currency",
              "outcome": "Outcome",
              "Value": "Amount"
            }
          }
        }
      ],
      "fieldConfig": {
        "defaults": {
          "unit": "short",
          "decimals": 2,
          "custom": {
            "align": "auto",
            "cellOptions": {
              "type": "auto"
            },
            "inspect": false
          },
          "thresholds": {
            "mode": "absolute",
            "steps": [
              {
                "color": "green",
                "value": null
              }
            ]
          },
          "mappings": [],
          "color": {
            "mode": "thresholds"
          }
        },
        "overrides": []
      },
      "options": {
        "showHeader": true,
        "cellHeight": "sm",
        "footer": {
          "show": false,
          "reducer": [
            "sum"
          ],
          "countRows": false,
          "fields": ""
        },
        "sortBy": [
          {
            "displayName": "Amount",
            "desc": true
          }
        ]
      },
      "id": 38
    },
    {
      "type": "stat",
      "title": "Confirmed short in the time range",
      "description": "Per store, intents that ended CONFIRMED with less paid than requested, during the dashboard's time range (increase of allscale_checkout_confirmed_short_total, exported from 0 for every store). Each is an order to hold until the amount received is checked (alert AllScaleCheckoutConfirmedShort).",
      "datasource": {
        "type": "prometheus",
        "uid": "${datasource}"
      },
      "gridPos": {
        "x": 0,
        "y": 91,
        "w": 6,
        "h": 9
      },
      "targets": [
        {
          "datasource": {
            "type": "prometheus",
            "uid": "${datasource}"
          },
          "refId": "A",
          "expr": "sum by (store) (increase(allscale_checkout_confirmed_short_total{job=~\"$job\",instance=~\"$instance\",store=~\"$store\"}[$__range]))",
          "legendFormat": "{{store}}",
          "range": false,
          "instant": true,
          "editorMode": "code"
        }
      ],
      "fieldConfig": {
        "defaults": {
          "unit": "short",
          "mappings": [],
          "thresholds": {
            "mode": "absolute",
            "steps": [
              {
                "color": "green",
                "value": null
              },
              {
                "color": "red",
                "value": 1
              }
            ]
          },
          "color": {
            "mode": "thresholds"
          },
          "decimals": 0
        },
        "overrides": []
      },
      "options": {
        "reduceOptions": {
          "calcs": [
            "lastNotNull"
          ],
          "fields": "",
          "values": false
        },
        "orientation": "auto",
        "textMode": "value_and_name",
        "colorMode": "background",
        "graphMode": "none",
        "justifyMode": "auto",
        "wideLayout": true,
        "showPercentChange": false
      },
      "id": 39
    },
    {
      "type": "timeseries",
      "title": "Detail requests by result",
      "description": "Requests for the intent detail (GET of the checkout intent, endpoint=\"detail\": once per intent, after it ended, for the amounts) per second by result (rate of allscale_api_requests_total{endpoint=\"detail\"}): ok; api_error; http_error, timeout, connect_error, decode_error, bad_response_signature (no usable answer). Until a detail is fetched, that intent's amounts are not counted.",
      "datasource": {
        "type": "prometheus",
        "uid": "${datasource}"
      },
      "gridPos": {
        "x": 6,
        "y": 91,
        "w": 9,
        "h": 9
      },
      "targets": [
        {
          "datasource": {
            "type": "prometheus",
            "uid": "${datasource}"
          },
          "refId": "A",
          "expr": "sum by (result) (rate(allscale_api_requests_total{job=~\"$job\",instance=~\"$instance\",store=~\"$store\",endpoint=\"detail\"}[$__rate_interval]))",
          "legendFormat": "{{result}}",
          "range": true,
          "instant": false,
          "editorMode": "code"
        }
      ],
      "fieldConfig": {
        "defaults": {
          "unit": "reqps",
          "custom": {
            "drawStyle": "line",
            "lineWidth": 1,
            "fillOpacity": 60,
            "showPoints": "never",
            "spanNulls": false,
            "stacking": {
              "mode": "normal",
              "group": "A"
            },
            "axisSoftMin": 0
          },
          "color": {
            "mode": "palette-classic"
          },
          "thresholds": {
            "mode": "absolute",
            "steps": [
              {
                "color": "green",
                "value": null
              }
            ]
          },
          "mappings": []
        },
        "overrides": [
          {
            "matcher": {
              "id": "byName",
              "options": "ok"
            },
            "properties": [
              {
                "id": "color",
                "value": {
                  "mode": "fixed",
                  "fixedColor": "green"
                }
              }
            ]
          },
          {
            "matcher": {
              "id": "byName",
              "options": "api_error"
            },
            "properties": [
              {
                "id": "color",
                "value": {
                  "mode": "fixed",
                  "fixedColor": "orange"
                }
              }
            ]
          }
        ]
      },
      "options": {
        "legend": {
          "displayMode": "table",
          "placement": "right",
          "showLegend": true,
          "calcs": [
            "lastNotNull",
            "max"
          ]
        },
        "tooltip": {
          "mode": "multi",
          "sort": "desc"
        }
      },
      "id": 40
    },
    {
      "type": "timeseries",
      "title": "Detail request latency p50 / p99",
      "description": "Latency quantiles of the intent detail requests (allscale_api_request_duration_seconds{endpoint=\"detail\"}), from sending the request to having read the whole answer, over the selected stores.",
      "datasource": {
        "type": "prometheus",
        "uid": "${datasource}"
      },
      "gridPos": {
        "x": 15,
        "y": 91,
        "w": 9,
        "h": 9
      },
      "targets": [
        {
          "datasource": {
            "type": "prometheus",
            "uid": "${datasource}"
          },
          "refId": "A",
          "expr": "histogram_quantile(0.5, sum by (le) (rate(allscale_api_request_duration_seconds_bucket{job=~\"$job\",instance=~\"$instance\",store=~\"$store\",endpoint=\"detail\"}[$__rate_interval])))",
          "legendFormat": "p50",
          "range": true,
          "instant": false,
          "editorMode": "code"
        },
        {
          "datasource": {
            "type": "prometheus",
            "uid": "${datasource}"
          },
          "refId": "B",
          "expr": "histogram_quantile(0.99, sum by (le) (rate(allscale_api_request_duration_seconds_bucket{job=~\"$job\",instance=~\"$instance\",store=~\"$store\",endpoint=\"detail\"}[$__rate_interval])))",
          "legendFormat": "p99",
          "range": true,
          "instant": false,
          "editorMode": "code"
        }
      ],
      "fieldConfig": {
        "defaults": {
          "unit": "s",
          "custom": {
            "drawStyle": "line",
            "lineWidth": 1,
            "fillOpacity": 10,
            "showPoints": "never",
            "spanNulls": false,
            "stacking": {
              "mode": "none",
              "group": "A"
            },
            "axisSoftMin": 0
          },
          "color": {
            "mode": "palette-classic"
          },
          "thresholds": {
            "mode": "absolute",
            "steps": [
              {
                "color": "green",
                "value": null
              }
            ]
          },
          "mappings": []
        },
        "overrides": []
      },
      "options": {
        "legend": {
          "displayMode": "table",
          "placement": "right",
          "showLegend": true,
          "calcs": [
            "lastNotNull",
            "max"
          ]
        },
        "tooltip": {
          "mode": "multi",
          "sort": "desc"
        }
      },
      "id": 41
    }
  ],
  "refresh": "30s",
  "schemaVersion": 39,
  "tags": [
    "allscale",
    "payments"
  ],
  "templating": {
    "list": [
      {
        "name": "datasource",
        "label": "Data source",
        "type": "datasource",
        "query": "prometheus",
        "current": {},
        "hide": 0,
        "refresh": 1,
        "regex": "",
        "includeAll": false,
        "multi": false,
        "options": [],
        "description": "The Prometheus that scrapes allscale-exporter."
      },
      {
        "name": "job",
        "label": "Job",
        "type": "query",
        "datasource": {
          "type": "prometheus",
          "uid": "${datasource}"
        },
        "definition": "label_values(allscale_exporter_build_info, job)",
        "query": {
          "qryType": 1,
          "query": "label_values(allscale_exporter_build_info, job)",
          "refId": "PrometheusVariableQueryEditor-VariableQuery"
        },
        "refresh": 2,
        "regex": "",
        "sort": 1,
        "includeAll": true,
        "multi": true,
        "current": {
          "selected": true,
          "text": [
            "All"
          ],
          "value": [
            "$__all"
          ]
        },
        "hide": 0,
        "options": [],
        "description": "The Prometheus job(s) of allscale-exporter."
      },
      {
        "name": "instance",
        "label": "Instance",
        "type": "query",
        "datasource": {
          "type": "prometheus",
          "uid": "${datasource}"
        },
        "definition": "label_values(allscale_exporter_build_info{job=~\"$job\"}, instance)",
        "query": {
          "qryType": 1,
          "query": "label_values(allscale_exporter_build_info{job=~\"$job\"}, instance)",
          "refId": "PrometheusVariableQueryEditor-VariableQuery"
        },
        "refresh": 2,
        "regex": "",
        "sort": 1,
        "includeAll": true,
        "multi": true,
        "current": {
          "selected": true,
          "text": [
            "All"
          ],
          "value": [
            "$__all"
          ]
        },
        "hide": 0,
        "options": [],
        "description": "The scrape target(s) (exporter replicas) of the selected job(s).",
        "allValue": ".*"
      },
      {
        "name": "store",
        "label": "Store",
        "type": "query",
        "datasource": {
          "type": "prometheus",
          "uid": "${datasource}"
        },
        "definition": "label_values(allscale_exporter_watched_intents{job=~\"$job\",instance=~\"$instance\"}, store)",
        "query": {
          "qryType": 1,
          "query": "label_values(allscale_exporter_watched_intents{job=~\"$job\",instance=~\"$instance\"}, store)",
          "refId": "PrometheusVariableQueryEditor-VariableQuery"
        },
        "refresh": 2,
        "regex": "",
        "sort": 1,
        "includeAll": true,
        "multi": true,
        "allValue": ".*",
        "current": {
          "selected": true,
          "text": [
            "All"
          ],
          "value": [
            "$__all"
          ]
        },
        "hide": 0,
        "options": [],
        "description": "AllScale store(s): the `name` of a store in the exporter config."
      },
      {
        "name": "rate_budget",
        "label": "API budget (req/s)",
        "type": "textbox",
        "query": "10",
        "current": {
          "text": "10",
          "value": "10"
        },
        "hide": 0,
        "options": [
          {
            "selected": true,
            "text": "10",
            "value": "10"
          }
        ],
        "description": "max_requests_per_second of the store in the exporter config (default 10); drawn as the budget line."
      }
    ]
  },
  "time": {
    "from": "now-6h",
    "to": "now"
  },
  "timepicker": {},
  "timezone": "browser",
  "title": "AllScale Checkout",
  "uid": "allscale-checkout",
  "version": 1,
  "weekStart": ""
}
